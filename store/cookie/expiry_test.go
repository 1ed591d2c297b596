package cookie_test

import (
	"testing"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
	"github.com/sessiond/sessiond/store/storetest"
)

// TestExpiredSessionAnswered: a cookie session past its idle timeout is answered as
// expired (audited, cookie cleared), not as an invalid cookie: the codec
// opens a cookie until its sealed Expires, the session's end plus
// session.ExpiredNotice, and the Manager judges the end.
func TestExpiredSessionAnswered(t *testing.T) {
	c := newCodec(t, cookie.Config{Keys: [][]byte{cookie.GenerateKey()}, Revocations: cookie.NewMemoryRevocations()})
	storetest.Expiry(t, session.Config{Codec: c})
}

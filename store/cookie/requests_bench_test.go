package cookie_test

import (
	"testing"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
	"github.com/sessiond/sessiond/store/storetest"
)

func BenchmarkRequests(b *testing.B) {
	c, err := cookie.New(cookie.Config{Keys: [][]byte{cookie.GenerateKey()}, Revocations: cookie.NewMemoryRevocations()})
	if err != nil {
		b.Fatal(err)
	}
	storetest.BenchmarkRequests(b, session.Config{Codec: c})
}

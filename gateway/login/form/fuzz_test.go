package form

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
)

// FuzzDeviceCookie: any cookie value, for any user name, is either
// refused or a cookie signed with this key for that user (checked here
// with HMAC-SHA256 computed independently) — never a panic, never trust
// for a forged or altered value.
func FuzzDeviceCookie(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	d, err := newDevices("site", key, config.Rate{Attempts: 3, Per: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	rec := httptest.NewRecorder()
	d.issue(rec, "alice")
	issued := rec.Result().Cookies()[0].Value
	f.Add(issued, "alice")
	f.Add(issued, "bob")
	f.Add("v1.YWxpY2U.x.9999999999.sig", "alice")
	f.Add("v1....", "")
	f.Fuzz(func(t *testing.T, value, user string) {
		r := httptest.NewRequest("POST", "https://site.test/login", nil)
		r.Header.Set("Cookie", DeviceCookieName+"="+value)
		_, ok := d.trusted(r, user)
		if !ok {
			return
		}
		parts := strings.Split(strings.Trim(value, `"`), ".")
		if len(parts) != 5 || parts[0] != "v1" || parts[1] != base64.RawURLEncoding.EncodeToString([]byte(user)) {
			t.Fatalf("trusted %q for %q", value, user)
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte("sessiond device cookie v1\x00site\x00" + user + "\x00" + parts[2] + "\x00" + parts[3] + "\x00"))
		if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != parts[4] {
			t.Fatalf("trusted %q for %q: not signed with the key", value, user)
		}
	})
}

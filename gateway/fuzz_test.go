package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"github.com/sessiond/sessiond/gateway/config"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
		r.Header.Set("Cookie", deviceCookieName+"="+value)
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

// FuzzAuthFormKeys: whatever a migrated Apache table holds, the user key
// is one of its keys, and no key ending in "-pw" is ever forwarded.
func FuzzAuthFormKeys(f *testing.F) {
	f.Add("members-user", "members-pw", "members-site", "cart", "members")
	f.Add("a-user", "b-user", "a-pw", "b-site", "")
	f.Add("user", "pw", "x-pw", "-user", "")
	f.Fuzz(func(t *testing.T, k1, k2, k3, k4, name string) {
		vals := map[string]string{k1: "1", k2: "2", k3: "3", k4: "4"}
		a := authFormKeys{name: name}
		key, ambiguous := a.userKey(vals)
		if key != "" {
			if _, ok := vals[key]; !ok || ambiguous {
				t.Fatalf("user key %q (ambiguous %v) of %v", key, ambiguous, vals)
			}
		}
		for k := range vals {
			if (k == "pw" || strings.HasSuffix(k, "-pw")) && !a.hidden(k, vals) {
				t.Fatalf("%q would be forwarded", k)
			}
		}
	})
}

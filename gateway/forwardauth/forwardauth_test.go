package forwardauth

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"
)

// TestHost: only a trusted proxy's auth request names its site by
// X-Forwarded-Host; a client elsewhere cannot pick a site that way.
func TestHost(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, peer, path, fwdHost, want string
		ok                              bool
	}{
		{"trusted proxy", "10.1.2.3:5000", config.ForwardAuthPath, "App.Example:8443", "app.example", true},
		{"trailing dot", "10.1.2.3:5000", config.ForwardAuthPath, "app.example.", "app.example", true},
		{"untrusted peer", "192.0.2.7:5000", config.ForwardAuthPath, "app.example", "", false},
		{"not the auth path", "10.1.2.3:5000", "/private", "app.example", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path, nil)
			r.RemoteAddr = tc.peer
			r.Header.Set("X-Forwarded-Host", tc.fwdHost)
			got, ok := Host(r, trusted)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("Host = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestKeepTrustedOnly: the original URL is noted from a trusted proxy
// only; anyone else's forwarding headers send the login page to "/".
func TestKeepTrustedOnly(t *testing.T) {
	h := New(Config{Hosts: []string{"app.example"}, Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		LoginURL:  func(next string) string { return "/login?next=" + next },
		ErrorPage: func(w http.ResponseWriter, code int, msg string) { http.Error(w, msg, code) }})
	for _, tc := range []struct {
		name, peer, want string
		code             int
	}{
		{"trusted proxy", "10.1.2.3:5000", "/login?next=/orders", http.StatusFound},
		{"untrusted peer", "192.0.2.7:5000", "/login?next=/", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", config.ForwardAuthPath, nil)
			r.RemoteAddr = tc.peer
			r.Header.Set("X-Forwarded-Uri", "/orders")
			r.Header.Set("X-Forwarded-Host", "app.example")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, h.Keep(r))
			if loc := w.Header().Get("Location"); loc != tc.want || w.Code != tc.code {
				t.Fatalf("%d, Location %q; want %d, %q", w.Code, loc, tc.code, tc.want)
			}
		})
	}
}

package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
)

// wrongLoginFrom makes one sign-in attempt with a wrong password from
// the client address addr (the connection's peer) and returns its
// status: 401 counted, 429 refused by a limit.
func wrongLoginFrom(t *testing.T, g *gw, addr string) int {
	t.Helper()
	peer := "[" + addr + "]:40000"
	if !strings.Contains(addr, ":") {
		peer = addr + ":40000"
	}
	get := httptest.NewRequest("GET", g.httpsURL+"/login", nil)
	get.RemoteAddr = peer
	page := httptest.NewRecorder()
	g.g.ServeHTTP(page, get)
	tok := between(page.Body.String(), `name="csrf_token" value="`, `"`)
	if tok == "" {
		t.Fatalf("no login form for %s: %d", addr, page.Code)
	}
	form := url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {"guess"}, "next": {"/"}}
	post := httptest.NewRequest("POST", g.httpsURL+"/login", strings.NewReader(form.Encode()))
	post.RemoteAddr = peer
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range page.Result().Cookies() {
		post.AddCookie(c)
	}
	resp := httptest.NewRecorder()
	g.g.ServeHTTP(resp, post)
	return resp.Code
}

// TestLoginLimitPerIPv6Network: the per-client login limit counts an
// IPv6 client by its /64 — a host picks any of its 2^64 addresses, so
// rotating through them must not reset its budget — and an IPv4 client
// by its address.
func TestLoginLimitPerIPv6Network(t *testing.T) {
	const budget = 5
	tests := []struct {
		name  string
		spent []string // one wrong password from each
		then  string
		want  int
	}{
		{"addresses of one /64 share the budget", []string{"2001:db8:7:8::1", "2001:db8:7:8::2", "2001:db8:7:8:1:2:3:4",
			"2001:db8:7:8:ffff:ffff:ffff:fffe", "2001:db8:7:8:abcd::9"}, "2001:db8:7:8:dead:beef:0:1", http.StatusTooManyRequests},
		{"the neighbouring /64 has its own budget", []string{"2001:db8:7:8::1", "2001:db8:7:8::2", "2001:db8:7:8::3",
			"2001:db8:7:8::4", "2001:db8:7:8::5"}, "2001:db8:7:9::1", http.StatusUnauthorized},
		{"an IPv4 address spends its own budget", []string{"192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.1",
			"192.0.2.1"}, "192.0.2.1", http.StatusTooManyRequests},
		{"the neighbouring IPv4 address has its own budget", []string{"192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.1",
			"192.0.2.1"}, "192.0.2.2", http.StatusUnauthorized},
		{"an IPv4-mapped address is the IPv4 address", []string{"192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.1",
			"192.0.2.1"}, "::ffff:192.0.2.1", http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t, func(sc *config.Site) {
				sc.Auth.RateLimit.PerIP = config.Rate{Attempts: budget, Per: time.Hour}
				sc.Auth.RateLimit.PerUser = config.Rate{Attempts: 1000, Per: time.Minute}
			})
			for i, addr := range tt.spent {
				if code := wrongLoginFrom(t, g, addr); code != http.StatusUnauthorized {
					t.Fatalf("attempt %d from %s = %d, want 401 (within the budget)", i+1, addr, code)
				}
			}
			if code := wrongLoginFrom(t, g, tt.then); code != tt.want {
				t.Fatalf("attempt from %s after %d = %d, want %d", tt.then, len(tt.spent), code, tt.want)
			}
		})
	}
}

package csrf_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"github.com/sessiond/sessiond/csrf"
)

// TestAuditRecordsJudgedClient: a refused cross-site POST that reached the
// app through a trusted proxy (127.0.0.1) is audited with the client the
// proxy saw — not the proxy, not an address the attacker wrote to the left
// of the proxy's; without TrustedProxies, X-Forwarded-For is not believed.
func TestAuditRecordsJudgedClient(t *testing.T) {
	tests := []struct {
		name    string
		proxies []netip.Prefix
		want    string
	}{
		{"no trusted proxy: the peer", nil, "127.0.0.1"},
		{"trusted proxy: the client it saw", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, csrf.Config{TrustedProxies: tt.proxies})
			c := newClient(t)
			hdr := http.Header{
				"Origin":          {"https://evil.example"},
				"X-Forwarded-For": {"6.6.6.6", "203.0.113.1, 198.51.100.7"}, // spoofed line, then the proxy's
			}
			if _, code := do(t, c, "POST", srv.URL+"/cart/add", url.Values{"product": {"1"}}, hdr); code != http.StatusForbidden {
				t.Fatalf("cross-site POST: %d, want 403", code)
			}
			ev := srv.audit.Events()
			if len(ev) != 1 || ev[0].Type != "csrf.refused" {
				t.Fatalf("events = %+v, want one csrf.refused", ev)
			}
			if ev[0].IP != tt.want {
				t.Fatalf("csrf.refused IP = %q, want %q", ev[0].IP, tt.want)
			}
		})
	}
}

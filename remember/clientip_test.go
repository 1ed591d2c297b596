package remember_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/remember"
)

// TestAuditRecordsJudgedClient: behind a trusted proxy (a load balancer on
// 127.0.0.1) the remember.* events name the client the proxy saw, never
// the proxy, and never an address the client wrote to the left of the
// proxy's; without TrustedProxies, X-Forwarded-For is not believed.
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
			a := newApp(t, remember.NewMemoryStore(), func(c *remember.Config) { c.TrustedProxies = tt.proxies })
			req, err := http.NewRequest("POST", a.URL+"/login", strings.NewReader(url.Values{"user": {"alice"}}.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Add("X-Forwarded-For", "6.6.6.6")                   // spoofed by the client
			req.Header.Add("X-Forwarded-For", "203.0.113.1, 198.51.100.7") // the proxy appended the real one
			resp, err := a.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("login: %d", resp.StatusCode)
			}
			events := a.audit.Events()
			if len(events) != 1 || events[0].Type != "remember.issued" {
				t.Fatalf("events = %+v, want one remember.issued", events)
			}
			if got := events[0].IP; got != tt.want {
				t.Fatalf("remember.issued IP = %q, want %q", got, tt.want)
			}
		})
	}
}

package main_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// viaProxy is a transport that adds the forwarding headers a TLS-terminating
// load balancer passes on: what the client wrote (spoofed) and then, to the
// right, what the load balancer added.
type viaProxy struct {
	next http.RoundTripper
	h    http.Header
}

func (p viaProxy) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, vs := range p.h {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return p.next.RoundTrip(r)
}

// TestAuditNamesProxiedClient: behind a trusted load balancer (here the
// loopback peer itself), the remember-me and CSRF audit events name the
// client the load balancer saw — the rightmost untrusted X-Forwarded-For —
// like every other event, never the load balancer and never an address the
// client wrote to the left of it.
func TestAuditNamesProxiedClient(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	audit := filepath.Join(t.TempDir(), "audit.log")
	g := startGatewayConfig(t, bin, gatewayStores[0], fmt.Sprintf("trusted_proxies: [127.0.0.1]\naudit: {log: %s}\n", audit), fmt.Sprintf(`
  - hosts: [a.localhost]
    upstream: %s
    auth: {htpasswd: {users}, remember: {enabled: true}}
`, up.srv.URL))
	c := client()
	c.Transport = viaProxy{c.Transport, http.Header{
		"X-Forwarded-For":   {"6.6.6.6", "198.51.100.7"},
		"X-Forwarded-Proto": {"https"},
	}}
	w := web{t, c}
	if resp := loginRemember(w, g, "a.localhost", "alice", "alice-pw", true); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	// A cross-site sign-out: refused by the CSRF layer.
	req, _ := http.NewRequest("POST", g.url("a.localhost", "/logout"), strings.NewReader("x=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site logout: %d, want 403", resp.StatusCode)
	}

	var log string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(audit)
		if log = string(b); strings.Contains(log, `"csrf.refused"`) {
			break
		}
	}
	ipOf := map[string][]string{} // event → the addresses it was audited from
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		_, rest, _ := strings.Cut(l, `"event":"`)
		ev, _, _ := strings.Cut(rest, `"`)
		_, rest, _ = strings.Cut(l, `"ip":"`)
		ip, _, _ := strings.Cut(rest, `"`)
		ipOf[ev] = append(ipOf[ev], ip)
	}
	for _, ev := range []string{"remember.issued", "csrf.refused", "login.ok", "session.created"} {
		if len(ipOf[ev]) == 0 {
			t.Errorf("no %s event", ev)
		}
	}
	for ev, ips := range ipOf {
		t.Run(ev, func(t *testing.T) {
			for _, ip := range ips {
				if ip != "198.51.100.7" {
					t.Fatalf("%s audited from %q, want 198.51.100.7:\n%s", ev, ips, log)
				}
			}
		})
	}
}

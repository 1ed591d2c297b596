package main_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAttackMixedStaleLogout (a passive sniffer must not be able to log
// users out), against the built binary in mixed mode on the server
// stores: a sniffer replays the victim's insecure sid, seen in clear, on a
// slow backend route that answers X-Session-Action: logout; while that
// request is held (its session loaded, anonymous), the victim signs in
// over HTTPS. The logout built on the pre-login view must not sign the
// victim out. Controls: the same held logout ends the session when nobody
// signed in meanwhile, and the victim's own logout ends a signed-in one.
func TestAttackMixedStaleLogout(t *testing.T) {
	bin := buildSessiond(t)
	loaded, release := make(chan struct{}, 1), make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("hold") != "" {
			loaded <- struct{}{}
			select {
			case <-release:
			case <-time.After(30 * time.Second):
			}
		}
		for _, v := range q["replace"] {
			w.Header().Add("X-Replace-Session", v)
		}
		for _, v := range q["action"] {
			w.Header().Add("X-Session-Action", v)
		}
		fmt.Fprintf(w, "session=%s\nuser=%s\n", r.Header.Get("X-Session"), r.Header.Get("X-Session-User"))
	}))
	t.Cleanup(up.Close)
	const host = "m.localhost"
	for _, st := range serverStores() {
		t.Run(st.name, func(t *testing.T) {
			audit := auditLog(filepath.Join(t.TempDir(), "audit.log"))
			g := startGatewayConfig(t, bin, st, fmt.Sprintf("audit: {log: %s}\n", audit), fmt.Sprintf(`
  - hosts: [m.localhost]
    upstream: %s
    session: {mode: mixed}
    auth: {htpasswd: {users}}
`, up.URL))
			cfg, _ := os.ReadFile(g.config)
			m := regexp.MustCompile(`http: \{addr: "127\.0\.0\.1:(\d+)"\}`).FindSubmatch(cfg)
			if m == nil {
				t.Fatal("no HTTP port in the config")
			}
			plain := "http://" + host + ":" + string(m[1])
			// refusals counts the audited refusals of a stale logout of alice.
			refusals := func() int {
				n := 0
				for _, e := range audit.events(t) {
					if e["event"] == "session.stale_logout_refused" && e["user"] == "alice" && e["reason"] == "signed-in" {
						n++
					}
				}
				return n
			}
			for _, tc := range []struct {
				name     string
				sniffer  bool // the held logout replays the sniffed sid
				login    bool // the victim signs in while it is held
				wantUser string
				wantCart bool
			}{
				{"sniffer's logout across the victim's login", true, true, "alice", true},
				{"held logout of a session nobody signed in", true, false, "", false},
				{"the victim's own logout after signing in", false, true, "", false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					refusedBefore := refusals()
					victim := web{t, client()}
					victim.do("GET", plain+"/p?replace=cart%3D1", nil) // sid travels in clear
					whoAmI(victim, g, host)                            // and the secure ID is set over HTTPS
					sniffed := ""
					pu, _ := url.Parse(plain + "/")
					for _, c := range victim.c.Jar.Cookies(pu) {
						if c.Name == "sid" {
							sniffed = c.Value
						}
					}
					if sniffed == "" {
						t.Fatal("setup: no insecure sid")
					}
					login := func() {
						_, page := victim.do("GET", g.url(host, "/login"), nil)
						resp, _ := victim.do("POST", g.url(host, "/login"), url.Values{"csrf_token": {field(page, "csrf_token")},
							"username": {"alice"}, "password": {"alice-pw"}, "next": {"/"}})
						if resp.StatusCode != http.StatusSeeOther || whoAmI(victim, g, host) != "alice" {
							t.Fatalf("the victim's login: %d, signed in as %q", resp.StatusCode, whoAmI(victim, g, host))
						}
					}
					if !tc.sniffer {
						login()
						victim.do("GET", g.url(host, "/p?action=logout"), nil)
					} else {
						done := make(chan int, 1)
						go func() {
							req, _ := http.NewRequest("GET", plain+"/p?hold=1&action=logout", nil)
							req.Header.Set("Cookie", "sid="+sniffed)
							c := client()
							c.Jar = nil
							resp, err := c.Do(req)
							if err != nil {
								done <- 0
								return
							}
							resp.Body.Close()
							done <- resp.StatusCode
						}()
						select {
						case <-loaded: // the sniffer's request loaded the anonymous session
						case <-time.After(10 * time.Second):
							t.Fatal("the held request never reached the backend")
						}
						if tc.login {
							login()
						}
						release <- struct{}{}
						if code := <-done; code != http.StatusOK {
							t.Fatalf("the sniffer's held logout: %d", code)
						}
					}
					if who := whoAmI(victim, g, host); who != tc.wantUser {
						t.Fatalf("the victim is signed in as %q, want %q", who, tc.wantUser)
					}
					_, body := victim.do("GET", g.url(host, "/who"), nil)
					if got := strings.Contains(body, "cart=1"); got != tc.wantCart {
						t.Fatalf("the victim's session keeps its cart: %v, want %v (%q)", got, tc.wantCart, body)
					}
					want := 0
					if tc.sniffer && tc.login {
						want = 1 // as alice's, signed in since the request loaded
					}
					if n := refusals(); n-refusedBefore != want {
						t.Fatalf("%d session.stale_logout_refused events, want %d", n-refusedBefore, want)
					}
				})
			}
		})
	}
}

package main_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAttackBatchedLoads (store/internal/batch on PostgreSQL and Redis),
// against two built gateways on one store, each with two sites of their
// own realms: under bursts of concurrent requests (whose loads share round
// trips) every request sees its own session — its user and its data —
// never another session's or another realm's; and once an admin's
// revoke-all has answered on one gateway, no request that starts after it,
// on either gateway, sees the revoked user.
func TestAttackBatchedLoads(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range []storeCase{gatewayStores[1], rememberStores[len(rememberStores)-1]} {
		t.Run(st.name, func(t *testing.T) {
			sites := fmt.Sprintf(`
  - name: a
    hosts: [a.localhost]
    upstream: %[1]s
    auth: {htpasswd: {users}, rate_limit: {per_user: {attempts: 1000, per: 1m}, per_ip: {attempts: 1000, per: 1m}}}
  - name: b
    hosts: [b.localhost]
    upstream: %[1]s
    auth: {htpasswd: {users}, rate_limit: {per_user: {attempts: 1000, per: 1m}, per_ip: {attempts: 1000, per: 1m}}}
`, up.srv.URL)
			users := []string{"u0-" + rand.Text()[:8], "u1-" + rand.Text()[:8], "u2-" + rand.Text()[:8]}
			var storeYAML string
			shared := storeCase{st.name, func(t *testing.T, dir string) string {
				if storeYAML == "" {
					storeYAML = st.yaml(t, dir)
				}
				return storeYAML
			}}
			g1 := startGatewayConfig(t, bin, shared, "", sites, func(path string) {
				for _, u := range users {
					addUser(t, bin, path, u, "pw-"+u)
				}
			})
			data, err := os.ReadFile(g1.users)
			if err != nil {
				t.Fatal(err)
			}
			g2 := startGatewayConfig(t, bin, shared, "", sites, func(path string) {
				os.WriteFile(path, data, 0o600)
			})

			// Three sessions per user and site, each marked with its own data.
			type sess struct {
				w          web
				host, user string
				mark       string
			}
			var all []sess
			for _, host := range []string{"a.localhost", "b.localhost"} {
				for _, u := range users {
					for i := range 3 {
						w := web{t, client()}
						if resp := login(w, g1, host, u, "pw-"+u); resp.StatusCode != http.StatusSeeOther {
							t.Fatalf("login = %d", resp.StatusCode)
						}
						mark := fmt.Sprintf("%s-%s-%d", host[:1], u, i)
						w.do("GET", g1.url(host, "/p?replace=m%3D"+mark), nil)
						all = append(all, sess{w, host, u, mark})
					}
				}
			}
			check := func(s sess, g gateway, revoked map[string]bool) {
				resp, body := s.w.do("GET", g.url(s.host, "/who"), nil)
				switch {
				case resp.StatusCode >= 500:
					t.Errorf("%s on %s: %d", s.mark, s.host, resp.StatusCode)
				case revoked[s.host+"/"+s.user]:
					if strings.Contains(body, "user="+s.user) || strings.Contains(body, s.mark) {
						t.Errorf("a request after the revoke-all saw the revoked session %s: %q", s.mark, body)
					}
				case !strings.Contains(body, "user="+s.user+"\n") || !strings.Contains(body, "m="+s.mark):
					t.Errorf("session %s was answered with %q", s.mark, body)
				}
			}
			burst := func(revoked map[string]bool) {
				var wg sync.WaitGroup
				for range 4 {
					for _, s := range all {
						for _, g := range []gateway{g1, g2} {
							wg.Go(func() { check(s, g, revoked) })
						}
					}
				}
				wg.Wait()
			}
			burst(nil)

			// Revoke users[0] in realm a on g1 while bursts run on both; every
			// request started after the answer must see no session of theirs.
			var after atomic.Bool
			revoked := map[string]bool{"a.localhost/" + users[0]: true}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for _, s := range all {
				if s.user != users[0] || s.host != "a.localhost" {
					continue
				}
				for _, g := range []gateway{g1, g2} {
					wg.Go(func() {
						for {
							select {
							case <-stop:
								return
							default:
							}
							started := after.Load()
							resp, body := s.w.do("GET", g.url(s.host, "/who"), nil)
							if started && (strings.Contains(body, "user="+s.user) || strings.Contains(body, s.mark)) {
								t.Errorf("a request started after the revoke-all saw %s (%d): %q", s.mark, resp.StatusCode, body)
							}
						}
					})
				}
			}
			time.Sleep(100 * time.Millisecond)
			if code, _ := g1.adminDo(t, "DELETE", "/api/realms/a/users/"+users[0]+"/sessions"); code != http.StatusOK {
				t.Fatalf("revoke-all = %d", code)
			}
			after.Store(true)
			time.Sleep(300 * time.Millisecond)
			close(stop)
			wg.Wait()
			burst(revoked)
		})
	}
}

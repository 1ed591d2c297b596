package main_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
)

// storeCase is one session store a gateway test runs against.
type storeCase struct {
	name string
	yaml func(t *testing.T, dir string) string // the store: block's body
}

// gatewayStores are the stores the issue-9 attacks run on: SQLite (the
// default), Redis (a real server: skipped without one, failing under CI)
// and the cookie store.
var gatewayStores = []storeCase{
	{"sqlite", func(t *testing.T, dir string) string {
		return fmt.Sprintf("  sqlite: {path: %s}\n", filepath.Join(dir, "s.db"))
	}},
	{"redis", func(t *testing.T, dir string) string {
		t.Setenv("TEST_REDIS_URL", testenv.RedisURL(t))
		return "  redis: {url_env: TEST_REDIS_URL}\n"
	}},
	{"cookie", func(t *testing.T, dir string) string {
		k := make([]byte, 32)
		rand.Read(k)
		path := filepath.Join(dir, "cookie.keys")
		if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("  cookie: {keys_file: %s}\n", path)
	}},
}

// addUser adds user to the htpasswd file with `sessiond passwd`.
func addUser(t *testing.T, bin, file, user, pw string) {
	t.Helper()
	cmd := exec.Command(bin, "passwd", "-cost", "4", file, user)
	cmd.Stdin = strings.NewReader(pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sessiond passwd: %v\n%s", err, out)
	}
}

// gateway is a running `sessiond serve`.
type gateway struct {
	dir, users string
	https      int
	proc       *proc
}

func (g gateway) url(host, path string) string {
	return fmt.Sprintf("https://%s:%d%s", host, g.https, path)
}

// startGatewayConfig writes a config with the given store and sites (YAML
// under "sites:", each site indented by two spaces) and starts the binary.
// {users} in sites is replaced by the users file (alice/alice-pw added).
func startGatewayConfig(t *testing.T, bin string, st storeCase, top, sites string) gateway {
	t.Helper()
	dir := t.TempDir()
	g := gateway{dir: dir, users: filepath.Join(dir, "users"), https: testenv.FreePort(t)}
	if _, err := os.Stat(g.users); err != nil {
		addUser(t, bin, g.users, "alice", "alice-pw")
	}
	cfg := fmt.Sprintf("listen:\n  http: {addr: \"127.0.0.1:%d\"}\n  https: {addr: \"127.0.0.1:%d\", dev_tls: true}\nstore:\n%s%s\nsites:\n%s",
		testenv.FreePort(t), g.https, st.yaml(t, dir), top, strings.ReplaceAll(sites, "{users}", g.users))
	path := filepath.Join(dir, "sessiond.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.proc = startProc(t, bin, "sessiond: ready", "serve", "--config", path)
	return g
}

// login signs in through the gateway's form and returns the response.
func login(w web, g gateway, host, user, pw string) *http.Response {
	w.t.Helper()
	_, page := w.do("GET", g.url(host, "/login"), nil)
	resp, _ := w.do("POST", g.url(host, "/login"), url.Values{"csrf_token": {field(page, "csrf_token")},
		"username": {user}, "password": {pw}, "next": {"/"}})
	return resp
}

func sessionCookie(w web, g gateway, host string) string {
	u, _ := url.Parse(g.url(host, "/"))
	for _, c := range w.c.Jar.Cookies(u) {
		if c.Name == "__Host-sid" {
			return c.Value
		}
	}
	return ""
}

// TestAttackLockoutAndThrottleAreNotWeapons (issue 9 item 12), against the
// built binary on each store: wrong guesses for alice lock out new clients
// but not alice's own browser; guesses of session IDs spread over two sites
// count once; a valid session on the throttled address keeps working.
func TestAttackLockoutAndThrottleAreNotWeapons(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			g := startGatewayConfig(t, bin, st, "limits:\n  unknown_ids: {attempts: 6, per: 1m}\n", fmt.Sprintf(`
  - hosts: [a.localhost]
    upstream: %[1]s
    auth:
      htpasswd: {users}
      rate_limit: {per_ip: {attempts: 1000, per: 1m}, per_user: {attempts: 5, per: 1m}}
  - hosts: [b.localhost]
    upstream: %[1]s
`, up.srv.URL))
			alice := web{t, client()}
			if resp := login(alice, g, "a.localhost", "alice", "alice-pw"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("alice's first login = %d", resp.StatusCode)
			}
			attacker := web{t, client()}
			code := 0
			for range 8 {
				code = login(attacker, g, "a.localhost", "alice", "guess").StatusCode
			}
			if code != http.StatusTooManyRequests {
				t.Fatalf("8 wrong guesses: last = %d, want 429", code)
			}
			if code := login(web{t, client()}, g, "a.localhost", "alice", "alice-pw").StatusCode; code != http.StatusTooManyRequests {
				t.Fatalf("right password from a never-seen client during the lockout = %d, want 429", code)
			}
			if code := login(alice, g, "a.localhost", "alice", "alice-pw").StatusCode; code != http.StatusSeeOther {
				t.Fatalf("alice from her own browser during the attack = %d, want 303 (the lockout was a weapon)", code)
			}
			if _, body := alice.do("GET", g.url("a.localhost", "/who"), nil); !strings.Contains(body, "user=alice") {
				t.Fatalf("alice not signed in after the attack: %q", body)
			}

			// Unknown session IDs: 6 per minute for the whole gateway.
			raw := &http.Client{Transport: client().Transport}
			guess := func(host string) int {
				b := make([]byte, 32)
				rand.Read(b)
				req, _ := http.NewRequest("GET", g.url(host, "/"), nil)
				req.Header.Set("Cookie", "__Host-sid="+base64.RawURLEncoding.EncodeToString(b))
				resp, err := raw.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for i := range 6 {
				if code := guess([]string{"a.localhost", "b.localhost"}[i%2]); code != http.StatusOK {
					t.Fatalf("guess %d refused early: %d", i, code)
				}
			}
			for _, host := range []string{"b.localhost", "a.localhost"} {
				if code := guess(host); code != http.StatusTooManyRequests {
					t.Fatalf("guess on %s past the gateway-wide limit = %d, want 429 (per-site counting)", host, code)
				}
			}
			resp, body := alice.do("GET", g.url("a.localhost", "/who"), nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "user=alice") {
				t.Fatalf("alice's valid session on the throttled address = %d %q, want 200 signed in", resp.StatusCode, body)
			}
		})
	}
}

package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/token"
)

// auditLog reads a gateway's JSON-lines audit log.
type auditLog string

func (a auditLog) events(t *testing.T) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(string(a))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// find returns the last event of type typ whose fields include want.
func (a auditLog) find(t *testing.T, typ string, want map[string]any) (map[string]any, bool) {
	t.Helper()
	evs := a.events(t)
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		if e["event"] != typ {
			continue
		}
		match := true
		for k, v := range want {
			match = match && fmt.Sprint(e[k]) == fmt.Sprint(v)
		}
		if match {
			return e, true
		}
	}
	return nil, false
}

// mustNotLeak fails if the audit log holds any of the values, or their ID
// hashes in any of the realms.
func (a auditLog) mustNotLeak(t *testing.T, values []string, realms ...string) {
	t.Helper()
	b, _ := os.ReadFile(string(a))
	for _, v := range values {
		if v == "" {
			continue
		}
		if strings.Contains(string(b), v) {
			t.Fatalf("the audit log holds a session cookie value")
		}
		for _, r := range append(realms, "") {
			if h, ok := token.ParseIn(r, v); ok && strings.Contains(string(b), h.Hex()) {
				t.Fatalf("the audit log holds an ID hash (realm %q)", r)
			}
		}
	}
}

// adminDo calls the admin API and returns the status and the decoded body.
func (g gateway) adminDo(t *testing.T, method, path string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", g.admin, path), nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// withCookie is a fresh client whose jar holds one cookie for host.
func withCookie(t *testing.T, rawURL, name, value string) web {
	w := web{t, client()}
	u, _ := url.Parse(rawURL)
	w.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
	return w
}

// TestAttackCrossSiteSession, against the built
// binary with two HTTPS-only sites on one gateway, on each store: a session
// of site a presented to site b is unknown there (and audited); the
// sessions page and the admin API of b see only b's sessions; revoking on b
// leaves a alone; a cookie copied before a logout (the form, or a backend's
// logout action) is dead; the audit log records the lifecycle and never a
// cookie value or an ID hash.
func TestAttackCrossSiteSession(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range append(gatewayStores, cookieWithRedisRevocations()) {
		t.Run(st.name, func(t *testing.T) {
			audit := auditLog(filepath.Join(t.TempDir(), "audit.log"))
			g := startGatewayConfig(t, bin, st, fmt.Sprintf("audit: {log: %s}\n", audit), fmt.Sprintf(`
  - name: a
    hosts: [a.localhost]
    upstream: %[1]s
    auth: {htpasswd: {users}}
  - name: b
    hosts: [b.localhost]
    upstream: %[1]s
    auth: {htpasswd: {users}}
`, up.srv.URL))
			var seen []string // every session cookie value, for the leak check
			aliceA, aliceB := web{t, client()}, web{t, client()}
			if resp := login(aliceA, g, "a.localhost", "alice", "alice-pw"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login on a = %d", resp.StatusCode)
			}
			if resp := login(aliceB, g, "b.localhost", "alice", "alice-pw"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login on b = %d", resp.StatusCode)
			}
			cookieA := sessionCookie(aliceA, g, "a.localhost")
			seen = append(seen, cookieA, sessionCookie(aliceB, g, "b.localhost"))

			// a's session on b is unknown there.
			thief := withCookie(t, g.url("b.localhost", "/"), "__Host-sid", cookieA)
			if who := whoAmI(thief, g, "b.localhost"); who != "" {
				t.Fatalf("site a's session presented to site b is signed in as %q", who)
			}
			if got := up.seen().Get("X-Session-User"); got != "" {
				t.Fatalf("site b's backend was told the user is %q", got)
			}
			if _, ok := audit.find(t, "session.unknown_id", map[string]any{"realm": "b"}); !ok {
				t.Fatal("the foreign session on b was not audited")
			}
			if who := whoAmI(aliceA, g, "a.localhost"); who != "alice" {
				t.Fatalf("alice on a after the attack: %q", who)
			}

			// The sessions page and the admin API are per realm.
			if !strings.HasPrefix(st.name, "cookie") {
				_, page := aliceB.do("GET", g.url("b.localhost", "/.sessiond/sessions"), nil)
				if n := strings.Count(page, "data-ref="); n != 1 {
					t.Fatalf("b's sessions page lists %d sessions of alice, want b's 1:\n%s", n, page)
				}
				code, body := g.adminDo(t, "GET", "/api/realms/b/users/alice/sessions")
				if list, _ := body["sessions"].([]any); code != 200 || len(list) != 1 {
					t.Fatalf("admin list of alice in realm b = %d %v, want b's 1 session", code, body)
				}
			}
			if code, body := g.adminDo(t, "DELETE", "/api/realms/b/users/alice/sessions"); code != http.StatusOK {
				t.Fatalf("admin revoke-all in realm b = %d %v (the cookie store must not answer 501)", code, body)
			}
			if who := whoAmI(aliceB, g, "b.localhost"); who != "" {
				t.Fatalf("alice on b after the admin revoked her there: %q", who)
			}
			if who := whoAmI(aliceA, g, "a.localhost"); who != "alice" {
				t.Fatalf("revoking alice in realm b signed her out of a (%q)", who)
			}

			// Logout through the form, then the copy is replayed.
			copied := sessionCookie(aliceA, g, "a.localhost")
			seen = append(seen, copied)
			whoAmI(aliceA, g, "a.localhost")
			tok := up.seen().Get("X-Session-Csrf")
			if resp, _ := aliceA.do("POST", g.url("a.localhost", "/logout"), url.Values{"csrf_token": {tok}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout = %d", resp.StatusCode)
			}
			if who := whoAmI(withCookie(t, g.url("a.localhost", "/"), "__Host-sid", copied), g, "a.localhost"); who != "" {
				t.Fatalf("a cookie copied before the logout is still signed in as %q", who)
			}
			// ... and through a backend's logout action.
			bob := web{t, client()}
			login(bob, g, "a.localhost", "bob", "bob-password")
			copied = sessionCookie(bob, g, "a.localhost")
			seen = append(seen, copied)
			bob.do("GET", g.url("a.localhost", "/p?action=logout"), nil)
			if who := whoAmI(withCookie(t, g.url("a.localhost", "/"), "__Host-sid", copied), g, "a.localhost"); who != "" {
				t.Fatalf("a cookie copied before the backend's logout is still signed in as %q", who)
			}

			// The lifecycle is in the audit log, IDs are not.
			for _, want := range []struct {
				typ    string
				fields map[string]any
			}{
				{"session.created", map[string]any{"realm": "a"}},
				{"session.rotated", map[string]any{"realm": "b", "kind": "hard", "reason": "login", "user": "alice"}},
				{"session.logout", map[string]any{"realm": "a", "user": "alice"}},
				{"session.revoked_all", map[string]any{"realm": "b", "user": "alice"}},
				{"admin.revoke_all", map[string]any{"realm": "b", "user": "alice"}},
			} {
				if _, ok := audit.find(t, want.typ, want.fields); !ok {
					t.Errorf("no %s event with %v in the audit log", want.typ, want.fields)
				}
			}
			audit.mustNotLeak(t, seen, "a", "b")
		})
	}
}

// cookieWithRedisRevocations is the cookie store with its revocation list
// in Redis (shared by every gateway) instead of the embedded SQLite file.
func cookieWithRedisRevocations() storeCase {
	byName := map[string]storeCase{}
	for _, st := range gatewayStores {
		byName[st.name] = st
	}
	return storeCase{"cookie-redis-revocations", func(t *testing.T, dir string) string {
		byName["redis"].yaml(t, dir)                                         // sets TEST_REDIS_URL to a database of its own
		cookieLine, _, _ := strings.Cut(byName["cookie"].yaml(t, dir), "\n") // its keys, not its revocations
		return cookieLine + "\n  revocations: {redis: {url_env: TEST_REDIS_URL}}\n"
	}}
}

// TestAttackDemoCrossSite on `sessiond demo`: the shop's
// insecure sid (it travels over plain HTTP, so a sniffer has it) presented
// as the outlet's __Host-sid is not signed in there; the outlet's admin
// cookie presented as the shop's sid does not open the shop's /admin; the
// outlet's sessions page lists only the outlet's sessions of alice.
func TestAttackDemoCrossSite(t *testing.T) {
	bin := buildSessiond(t)
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	startProc(t, bin, "Ctrl-C stops", "demo", "--data", t.TempDir(),
		"--http", fmt.Sprintf("127.0.0.1:%d", hp), "--https", fmt.Sprintf("127.0.0.1:%d", sp))
	shopHTTP, shopHTTPS := fmt.Sprintf("http://shop.localhost:%d", hp), fmt.Sprintf("https://shop.localhost:%d", sp)
	outlet := fmt.Sprintf("https://outlet.localhost:%d", sp)
	signIn := func(w web, origin, user, pw string) {
		_, page := w.do("GET", origin+"/login", nil)
		resp, body := w.do("POST", origin+"/login", url.Values{"csrf_token": {field(page, "csrf_token")},
			"username": {user}, "password": {pw}, "next": {"/account"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s signing in on %s = %d: %s", user, origin, resp.StatusCode, body)
		}
	}
	cookieOf := func(w web, rawURL, name string) string {
		u, _ := url.Parse(rawURL)
		for _, c := range w.c.Jar.Cookies(u) {
			if c.Name == name {
				return c.Value
			}
		}
		return ""
	}

	alice := web{t, client()}
	alice.do("POST", shopHTTP+"/cart/add", url.Values{"product": {"1"}})
	signIn(alice, shopHTTPS, "alice", "alice-demo")
	alice.do("GET", shopHTTP+"/cart", nil) // step down: a new sid, sent in clear
	sniffed := cookieOf(alice, shopHTTP, "sid")
	if sniffed == "" {
		t.Fatal("setup: no shop sid")
	}
	resp, body := withCookie(t, outlet, "__Host-sid", sniffed).do("GET", outlet+"/account", nil)
	if strings.Contains(body, "alice") {
		t.Fatalf("the shop's sid presented to the outlet is signed in as alice (%d):\n%s", resp.StatusCode, body)
	}

	admin := web{t, client()}
	signIn(admin, outlet, "admin", "admin-demo")
	outletAdmin := cookieOf(admin, outlet, "__Host-sid")
	if resp, _ := admin.do("GET", outlet+"/admin", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("setup: admin on the outlet's /admin = %d", resp.StatusCode)
	}
	for _, name := range []string{"sid", "__Host-ssid"} {
		resp, body := withCookie(t, shopHTTPS, name, outletAdmin).do("GET", shopHTTPS+"/admin", nil)
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("the outlet's admin cookie as the shop's %s opens the shop's /admin:\n%s", name, body)
		}
	}

	// alice on the outlet too: its sessions page shows the outlet's only.
	signIn(alice, outlet, "alice", "alice-demo")
	_, page := alice.do("GET", outlet+"/.sessiond/sessions", nil)
	if n := strings.Count(page, "data-ref="); n != 1 {
		t.Fatalf("the outlet's sessions page lists %d sessions of alice, want the outlet's 1:\n%s", n, page)
	}
	if _, body := alice.do("GET", shopHTTPS+"/account", nil); !strings.Contains(body, "alice") {
		t.Fatal("alice's shop session was lost")
	}
}

// TestAttackMixedSnifferCannotSignOut, against the built
// binary on the server stores: an old insecure sid replayed after its grace
// window is refused and audited, and alice stays signed in everywhere; an
// old secure ID after grace still revokes her sessions.
func TestAttackMixedSnifferCannotSignOut(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range gatewayStores {
		if st.name == "cookie" {
			continue // mixed mode needs a server store
		}
		t.Run(st.name, func(t *testing.T) {
			audit := auditLog(filepath.Join(t.TempDir(), "audit.log"))
			g := startGatewayConfig(t, bin, st, fmt.Sprintf("audit: {log: %s}\n", audit), fmt.Sprintf(`
  - name: m
    hosts: [m.localhost]
    upstream: %s
    auth: {htpasswd: {users}}
    session: {mode: mixed, grace: 1s, rotate_every: 4s}
`, up.srv.URL))
			cfg, _ := os.ReadFile(filepath.Join(g.dir, "sessiond.yaml"))
			m := regexp.MustCompile(`http: \{addr: "127\.0\.0\.1:(\d+)"\}`).FindSubmatch(cfg)
			if m == nil {
				t.Fatal("no HTTP port in the config")
			}
			plain := "http://m.localhost:" + string(m[1])
			victim, laptop := web{t, client()}, web{t, client()}
			login(victim, g, "m.localhost", "alice", "alice-pw")
			login(laptop, g, "m.localhost", "alice", "alice-pw")
			victim.do("GET", plain+"/p?replace=cart%3D7", nil) // step down: this sid travels in clear
			u, _ := url.Parse(plain)
			var sniffed string
			for _, c := range victim.c.Jar.Cookies(u) {
				if c.Name == "sid" {
					sniffed = c.Value
				}
			}
			if who := whoAmI(victim, g, "m.localhost"); who != "alice" { // back on HTTPS: sid regenerated
				t.Fatalf("setup: victim on HTTPS is %q", who)
			}
			time.Sleep(1300 * time.Millisecond) // past the grace window
			req, _ := http.NewRequest("GET", plain+"/p", nil)
			req.Header.Set("Cookie", "sid="+sniffed)
			resp, err := (&http.Client{Transport: client().Transport}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if s := up.seen().Get("X-Session"); strings.Contains(s, "cart") {
				t.Fatalf("the obsolete insecure sid still reaches the session: %q", s)
			}
			if _, ok := audit.find(t, "session.obsolete_id", map[string]any{"action": "refused", "secure_id": false}); !ok {
				t.Fatal("the replayed insecure sid was not audited as refused")
			}
			for name, w := range map[string]web{"victim": victim, "laptop": laptop} {
				if who := whoAmI(w, g, "m.localhost"); who != "alice" {
					t.Fatalf("a sniffer replaying an old sid signed alice's %s out (%q)", name, who)
				}
			}

			// An obsolete secure ID after grace is theft: alice is revoked.
			su, _ := url.Parse(g.url("m.localhost", "/"))
			var oldSecure string
			for _, c := range victim.c.Jar.Cookies(su) {
				if c.Name == "__Host-ssid" {
					oldSecure = c.Value
				}
			}
			time.Sleep(4100 * time.Millisecond)
			whoAmI(victim, g, "m.localhost") // periodic rotation of the secure ID
			time.Sleep(1300 * time.Millisecond)
			whoAmI(withCookie(t, g.url("m.localhost", "/"), "__Host-ssid", oldSecure), g, "m.localhost")
			if _, ok := audit.find(t, "session.obsolete_id", map[string]any{"action": "revoke-user", "secure_id": true}); !ok {
				t.Fatal("an obsolete secure ID after grace did not trigger the theft action")
			}
			if who := whoAmI(laptop, g, "m.localhost"); who != "" {
				t.Fatalf("after a stolen secure ID the laptop is still signed in as %q", who)
			}
		})
	}
}

// TestCheckConfigSharedRealms: check-config (and so serve) refuses a realm
// shared by an HTTPS-only and a mixed site, and one shared implicitly.
func TestCheckConfigSharedRealms(t *testing.T) {
	bin := buildSessiond(t)
	for _, tc := range []struct{ name, sites, want string }{
		{"modes differ", `
  - {name: www, hosts: [www.localhost], upstream: "http://127.0.0.1:9", realm: shared, session: {mode: https-only}}
  - {name: shop, hosts: [shop.localhost], upstream: "http://127.0.0.1:9", realm: shared, session: {mode: mixed}}`,
			`realm "shared" is shared by a https-only site`},
		{"implicit", `
  - {name: www, hosts: [www.localhost], upstream: "http://127.0.0.1:9"}
  - {name: shop, hosts: [shop.localhost], upstream: "http://127.0.0.1:9", realm: www}`,
			`sites[0].realm: the site's realm defaults to its name "www"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "sessiond.yaml")
			os.WriteFile(path, []byte("listen:\n  https: {dev_tls: true}\nsites:"+tc.sites+"\n"), 0o600)
			out, err := exec.Command(bin, "check-config", path).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
				t.Fatalf("check-config: %v\n%s\nwant exit 1 and %q", err, out, tc.want)
			}
		})
	}
}

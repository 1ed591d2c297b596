package main_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
)

// rememberCookie is the browser's remember-me cookie ("" if none).
func rememberCookie(w web, g gateway, host string) string {
	return jarCookie(w, g, host, "__Host-remember")
}

// loginRemember signs in through the form, ticking "Keep me signed in"
// when tick is set.
func loginRemember(w web, g gateway, host, user, pw string, tick bool) *http.Response {
	w.t.Helper()
	_, page := w.do("GET", g.url(host, "/login"), nil)
	if !strings.Contains(page, `name="remember"`) {
		w.t.Fatalf("the login form has no \"Keep me signed in\" box:\n%s", page)
	}
	f := url.Values{"csrf_token": {field(page, "csrf_token")}, "username": {user}, "password": {pw}, "next": {"/"}}
	if tick {
		f.Set("remember", "1")
	}
	resp, _ := w.do("POST", g.url(host, "/login"), f)
	return resp
}

// sessionsOf counts user's sessions in realm through the admin API; -1 with the
// cookie store, whose sessions live in browsers and cannot be listed (the
// tests then judge by what the browsers see).
func sessionsOf(t *testing.T, g gateway, st storeCase, realm, user string) int {
	if strings.HasPrefix(st.name, "cookie") {
		return -1
	}
	return g.adminSessions(t, realm, user)
}

// withOnly is a new browser holding only the given remember cookie.
func withOnly(t *testing.T, g gateway, host, remember string) web {
	w := web{t, client()}
	u, _ := url.Parse(g.url(host, "/"))
	w.c.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-remember", Value: remember, Path: "/", Secure: true}})
	return w
}

// rememberStores are the stores remember-me keys live in: SQLite, Redis,
// the cookie store (keys beside its SQLite or Redis revocation list) and a
// real PostgreSQL (skipped without one, failing under CI).
var rememberStores = append(append([]storeCase{}, gatewayStores...),
	storeCase{"cookie+redis", func(t *testing.T, dir string) string {
		cookie := gatewayStores[2].yaml(t, dir)
		cookie = cookie[:strings.Index(cookie, "  revocations:")]
		t.Setenv("TEST_REDIS_URL", testenv.RedisURL(t))
		return cookie + "  revocations: {redis: {url_env: TEST_REDIS_URL}}\n"
	}},
	storeCase{"postgres", func(t *testing.T, dir string) string {
		t.Setenv("TEST_PG_DSN", testenv.PostgresSchema(t))
		return "  postgres: {dsn_env: TEST_PG_DSN}\n"
	}})

// TestRememberMe against the built binary on
// every store: a ticked login survives the loss of its session cookie through a
// one-time remember cookie that is rotated on use and never forwarded; a
// replayed old cookie is refused and revokes the user's keys and sessions
// (audited); logout and an unticked login end it.
func TestRememberMe(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range rememberStores {
		t.Run(st.name, func(t *testing.T) { testRememberMe(t, bin, up, st) })
	}
}

func testRememberMe(t *testing.T, bin string, up *upstream, st storeCase) {
	// Names of this run only: a shared PostgreSQL keeps other runs' rows.
	alice, bob := "alice-"+rand.Text()[:8], "bob-"+rand.Text()[:8]
	audit := filepath.Join(t.TempDir(), "audit.log")
	g := startGatewayConfig(t, bin, st, fmt.Sprintf("audit: {log: %s}\n", audit), fmt.Sprintf(`
  - hosts: [a.localhost]
    upstream: %s
    auth: {htpasswd: {users}, remember: {enabled: true, lifetime: 720h, reuse_grace: 1s}}
`, up.srv.URL), func(path string) {
		addUser(t, bin, path, alice, "alice-pw")
		addUser(t, bin, path, bob, "bob-password")
	})
	const host = "a.localhost"

	// Ticked: a remember cookie with the right attributes.
	b := web{t, client()}
	_, page := b.do("GET", g.url(host, "/login"), nil)
	f := url.Values{"csrf_token": {field(page, "csrf_token")}, "username": {alice}, "password": {"alice-pw"}, "next": {"/"}, "remember": {"1"}}
	resp, _ := b.do("POST", g.url(host, "/login"), f)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login = %d", resp.StatusCode)
	}
	var set string
	for _, l := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(l, "__Host-remember=") {
			set = l
		}
	}
	for _, attr := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=2592000"} {
		if !strings.Contains(set, attr) {
			t.Fatalf("remember cookie %q lacks %s", set, attr)
		}
	}
	first := rememberCookie(b, g, host)
	firstSID := sessionCookie(b, g, host)
	if first == "" || firstSID == "" {
		t.Fatal("a ticked login set no remember cookie")
	}
	if who := whoAmI(b, g, host); who != alice {
		t.Fatalf("after login the backend sees %q", who)
	}
	if strings.Contains(up.seen().Get("Cookie"), "remember") {
		t.Fatalf("the remember cookie reached the backend: %q", up.seen().Get("Cookie"))
	}

	// The session cookie is gone (browser restart): the remember cookie
	// signs in with a new session ID and a new remember cookie.
	back := withOnly(t, g, host, first)
	if who := whoAmI(back, g, host); who != alice {
		t.Fatalf("the remember cookie did not sign in (backend sees %q)", who)
	}
	second := rememberCookie(back, g, host)
	if second == "" || second == first {
		t.Fatalf("the remember cookie was not rotated: %q -> %q", first, second)
	}
	if sid := sessionCookie(back, g, host); sid == "" || sid == firstSID {
		t.Fatalf("remember-me login kept the session ID or set none: %q", sid)
	}
	if strings.Contains(up.seen().Get("Cookie"), "remember") {
		t.Fatalf("the remember cookie reached the backend: %q", up.seen().Get("Cookie"))
	}
	if n := sessionsOf(t, g, st, "a.localhost", alice); n != 2 && n != -1 {
		t.Fatalf("alice has %d sessions, want 2", n)
	}

	// Within reuse_grace (tabs restored at once with one old cookie) the
	// used key is refused quietly: no login, nothing revoked.
	if who := whoAmI(withOnly(t, g, host, first), g, host); who != "" {
		t.Fatalf("a used remember cookie within the grace signed in as %q", who)
	}
	if n := sessionsOf(t, g, st, "a.localhost", alice); n != 2 && n != -1 {
		t.Fatalf("a reuse within the grace left alice %d sessions, want 2 (not theft)", n)
	}

	// A thief replays the used first key after the grace: refused, and
	// every key and session of alice is revoked.
	time.Sleep(1100 * time.Millisecond)
	thief := withOnly(t, g, host, first)
	if who := whoAmI(thief, g, host); who != "" {
		t.Fatalf("a replayed remember cookie signed in as %q", who)
	}
	if n := sessionsOf(t, g, st, "a.localhost", alice); n > 0 {
		t.Fatalf("after the replay alice still has %d sessions", n)
	}
	if who := whoAmI(back, g, host); who != "" {
		t.Fatalf("after the replay the remembered browser is still %q", who)
	}
	if who := whoAmI(withOnly(t, g, host, second), g, host); who != "" {
		t.Fatalf("after the replay the current remember key still signs in as %q", who)
	}
	waitAudit(t, audit, `"remember.reuse"`)
	data, _ := os.ReadFile(audit)
	if !strings.Contains(string(data), `"keys_revoked":2`) && !strings.Contains(string(data), `"keys_revoked": 2`) {
		t.Fatalf("the reuse audit does not count the revoked keys:\n%s", data)
	}

	// Logout forgets this browser's key.
	c := web{t, client()}
	if resp := loginRemember(c, g, host, alice, "alice-pw", true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login = %d", resp.StatusCode)
	}
	key := rememberCookie(c, g, host)
	if key == "" {
		t.Fatal("no remember cookie")
	}
	_, acct := c.do("GET", g.url(host, "/login"), nil)
	resp, _ = c.do("POST", g.url(host, "/logout"), url.Values{"csrf_token": {field(acct, "csrf_token")}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d", resp.StatusCode)
	}
	if rememberCookie(c, g, host) != "" {
		t.Fatal("logout left the remember cookie in the browser")
	}
	if who := whoAmI(withOnly(t, g, host, key), g, host); who != "" {
		t.Fatalf("after logout the remember key still signs in as %q", who)
	}

	// The backend's logout action forgets it too.
	d := web{t, client()}
	loginRemember(d, g, host, bob, "bob-password", true)
	key = rememberCookie(d, g, host)
	if key == "" {
		t.Fatal("no remember cookie")
	}
	d.do("GET", g.url(host, "/?action=logout"), nil)
	if who := whoAmI(withOnly(t, g, host, key), g, host); who != "" {
		t.Fatalf("after the backend's logout the remember key still signs in as %q", who)
	}

	// Unticked: no remember cookie, and an earlier one is forgotten.
	e := web{t, client()}
	loginRemember(e, g, host, bob, "bob-password", true)
	key = rememberCookie(e, g, host)
	if resp := loginRemember(e, g, host, bob, "bob-password", false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login = %d", resp.StatusCode)
	}
	if v := rememberCookie(e, g, host); v != "" {
		t.Fatalf("an unticked login left a remember cookie %q", v)
	}
	if who := whoAmI(withOnly(t, g, host, key), g, host); who != "" {
		t.Fatalf("an unticked login did not forget the earlier key (signs in as %q)", who)
	}
	n := web{t, client()}
	loginRemember(n, g, host, bob, "bob-password", false)
	if v := rememberCookie(n, g, host); v != "" {
		t.Fatalf("an unticked login set a remember cookie %q", v)
	}
}

func waitAudit(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit log lacks %s:\n%s", want, data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

package main_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestAttackRememberMe plays a hostile client against remember-me keys on
// every store they live in, with two sites of their own realms (a, b) and
// a CGI site (c) on one gateway: forged and malformed cookies, a key sent
// over plain HTTP, a key of realm a presented on site b, many tabs with
// one key at once, and keys that must die with "sign out everywhere", an
// admin's revoke-all and the removal of the user. Each attack must be
// refused (never a 5xx) and leave what it did not own intact.
func TestAttackRememberMe(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range rememberStores {
		t.Run(st.name, func(t *testing.T) { attackRememberMe(t, bin, up, st) })
	}
}

func attackRememberMe(t *testing.T, bin string, up *upstream, st storeCase) {
	alice, bob := "alice-"+rand.Text()[:8], "bob-"+rand.Text()[:8]
	cgiDir := filepath.Join(t.TempDir(), "cgi")
	os.Mkdir(cgiDir, 0o755)
	os.WriteFile(filepath.Join(cgiDir, "env"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nuser=%s\\ncookie=%s\\n' \"$HTTP_X_SESSION_USER\" \"$HTTP_COOKIE\"\n"), 0o755)
	remember := "remember: {enabled: true, lifetime: 720h, reuse_grace: 2s}"
	g := startGatewayConfig(t, bin, st, "", fmt.Sprintf(`
  - name: a
    hosts: [a.localhost]
    upstream: %[1]s
    auth: {htpasswd: {users}, %[2]s}
  - name: b
    hosts: [b.localhost]
    upstream: %[1]s
    auth: {htpasswd: {users}, %[2]s}
  - name: c
    hosts: [c.localhost]
    cgi: {dir: %[3]s, prefix: /cgi-bin}
    auth: {htpasswd: {users}, %[2]s}
`, up.srv.URL, remember, cgiDir), func(path string) {
		addUser(t, bin, path, alice, "alice-pw")
		addUser(t, bin, path, bob, "bob-password")
	})
	const a, b = "a.localhost", "b.localhost"
	keyOf := func(host, user, pw string) string {
		t.Helper()
		w := web{t, client()}
		if resp := loginRemember(w, g, host, user, pw, true); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login of %s on %s = %d", user, host, resp.StatusCode)
		}
		k := rememberCookie(w, g, host)
		if k == "" {
			t.Fatal("a ticked login set no remember cookie")
		}
		return k
	}
	// raw sends cookie header values as they are (no jar, no encoding).
	raw := func(rawURL, cookie string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", rawURL, nil)
		req.Header.Set("Cookie", cookie)
		c := client()
		c.Jar = nil
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s with Cookie %.60q: %v", rawURL, cookie, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// mustWork signs in with key and returns the rotated key.
	mustWork := func(what, host, key, user string) string {
		t.Helper()
		w := withOnly(t, g, host, key)
		if who := whoAmI(w, g, host); who != user {
			t.Fatalf("%s: the key signs in as %q, want %q", what, who, user)
		}
		return rememberCookie(w, g, host)
	}

	// Forged and malformed cookies: refused, never a 5xx, and a real key
	// (whose selector the attacker does not know) is untouched.
	kept := keyOf(a, alice, "alice-pw")
	sel := strings.Repeat("A", 22)
	val := strings.Repeat("B", 43)
	for _, tc := range []struct{ name, cookie string }{
		{"empty", "__Host-remember="},
		{"short", "__Host-remember=x"},
		{"oversized", "__Host-remember=" + strings.Repeat("A", 8000)},
		{"well-formed unknown", "__Host-remember=" + sel + "." + val},
		{"no dot", "__Host-remember=" + sel + "x" + val},
		{"padding", "__Host-remember=" + sel + "==." + val},
		{"std alphabet", "__Host-remember=" + strings.Repeat("+", 22) + "." + strings.Repeat("/", 43)},
		{"quoted", `__Host-remember="` + sel + "." + val + `"`},
		{"non-ascii", "__Host-remember=" + sel + ".\xff\xfe" + val[2:]},
		{"sql", "__Host-remember=' OR '1'='1"},
		{"twice", "__Host-remember=" + sel + "." + val + "; __Host-remember=" + kept},
		{"unprefixed name", "remember=" + kept},
	} {
		for _, p := range []string{"/who", "/login", "/logout", "/.sessiond/sessions", "/?action=logout"} {
			code, body := raw(g.url(a, p), tc.cookie)
			if code >= 500 || strings.Contains(body, "user="+alice) {
				t.Errorf("%s on %s: %d %q", tc.name, p, code, body)
			}
		}
	}
	// "twice" carried the real key beside a forged one: refused (either
	// could be the victim's), and it is still alice's to use.
	mustWork("after the forged cookies", a, kept, alice)

	// Over plain HTTP the key is neither used nor burned.
	cfg, _ := os.ReadFile(g.config)
	m := regexp.MustCompile(`http: \{addr: "127\.0\.0\.1:(\d+)"\}`).FindSubmatch(cfg)
	if m == nil {
		t.Fatal("no HTTP port in the config")
	}
	key := keyOf(a, alice, "alice-pw")
	if code, body := raw("http://a.localhost:"+string(m[1])+"/who", "__Host-remember="+key); code >= 500 || strings.Contains(body, alice) {
		t.Fatalf("the key over plain HTTP: %d %q", code, body)
	}
	mustWork("after it was sent over plain HTTP", a, key, alice)

	// Realm a's key on site b: no one is signed in there, and the key
	// still works on a (site b neither consumes nor burns it).
	key = keyOf(a, alice, "alice-pw")
	if who := whoAmI(withOnly(t, g, b, key), g, b); who != "" {
		t.Fatalf("realm a's key signed in on site b as %q", who)
	}
	mustWork("after it was presented on site b", a, key, alice)

	// The key never reaches a CGI script.
	key = keyOf("c.localhost", bob, "bob-password")
	if _, body := withOnly(t, g, "c.localhost", key).do("GET", g.url("c.localhost", "/cgi-bin/env"), nil); !strings.Contains(body, "user="+bob) || strings.Contains(body, "remember") {
		t.Fatalf("CGI with a remember key saw:\n%s", body)
	}

	// Many tabs restored at once with one key: exactly one login, and no
	// theft verdict (alice's other session stays).
	other := web{t, client()}
	login(other, g, a, alice, "alice-pw")
	key = keyOf(a, alice, "alice-pw")
	var mu sync.Mutex
	var wg sync.WaitGroup
	signedIn := 0
	for range 12 {
		wg.Go(func() {
			code, body := raw(g.url(a, "/who"), "__Host-remember="+key)
			mu.Lock()
			defer mu.Unlock()
			if code >= 500 {
				t.Errorf("a concurrent tab got %d", code)
			}
			if strings.Contains(body, "user="+alice+"\n") {
				signedIn++
			}
		})
	}
	wg.Wait()
	if signedIn != 1 {
		t.Fatalf("12 tabs with one key: %d signed in, want exactly 1", signedIn)
	}
	if who := whoAmI(other, g, a); who != alice {
		t.Fatalf("concurrent tabs within the grace were taken for theft: alice's other session is %q", who)
	}

	// A thief signed in by a copied key alone cannot sign the owner out
	// everywhere (or forget her keys): the password is asked for.
	owner := web{t, client()}
	loginRemember(owner, g, a, alice, "alice-pw", true)
	thief := withOnly(t, g, a, keyOf(a, alice, "alice-pw"))
	if who := whoAmI(thief, g, a); who != alice {
		t.Fatalf("setup: the copied key signs in as %q", who)
	}
	_, page := thief.do("GET", g.url(a, "/.sessiond/sessions"), nil)
	for _, pw := range []string{"", "guess"} {
		if resp, _ := thief.do("POST", g.url(a, "/.sessiond/sessions/revoke-others"), url.Values{"csrf_token": {field(page, "csrf_token")}, "password": {pw}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("revoke-others by a key-only session with password %q = %d, want 401", pw, resp.StatusCode)
		}
	}
	if who := whoAmI(owner, g, a); who != alice {
		t.Fatalf("a key thief signed the owner out (%q)", who)
	}
	mustWork("the owner's key after the thief's attempts", a, rememberCookie(owner, g, a), alice)

	// "Sign out everywhere else" ends the other devices for good: their
	// remember keys must not sign them straight back in.
	me, laptop := web{t, client()}, web{t, client()}
	loginRemember(me, g, a, alice, "alice-pw", true)
	loginRemember(laptop, g, a, alice, "alice-pw", true)
	laptopKey := rememberCookie(laptop, g, a)
	_, page = me.do("GET", g.url(a, "/.sessiond/sessions"), nil)
	resp, _ := me.do("POST", g.url(a, "/.sessiond/sessions/revoke-others"), url.Values{"csrf_token": {field(page, "csrf_token")}, "password": {"alice-pw"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke-others = %d", resp.StatusCode)
	}
	if who := whoAmI(laptop, g, a); who != "" {
		t.Fatalf("after sign out everywhere else, the laptop is still signed in as %q (its session cookie or its remember key)", who)
	}
	if who := whoAmI(withOnly(t, g, a, laptopKey), g, a); who != "" {
		t.Fatalf("after sign out everywhere else, the laptop's key signs in as %q", who)
	}
	if who := whoAmI(me, g, a); who != alice {
		t.Fatalf("sign out everywhere else signed out this browser too (%q)", who)
	}

	// The admin's revoke of one session ends that remembered device (keys
	// are not tied to sessions: all of alice's keys in the realm go).
	if !strings.HasPrefix(st.name, "cookie") {
		refs := func() map[string]bool {
			_, out := g.adminDo(t, "GET", "/api/realms/a/users/"+alice+"/sessions")
			m := map[string]bool{}
			list, _ := out["sessions"].([]any)
			for _, e := range list {
				if o, ok := e.(map[string]any); ok {
					m[fmt.Sprint(o["ref"])] = true
				}
			}
			return m
		}
		before := refs()
		tablet := web{t, client()}
		loginRemember(tablet, g, a, alice, "alice-pw", true)
		var ref string
		for r := range refs() {
			if !before[r] {
				ref = r
			}
		}
		if ref == "" {
			t.Fatal("the tablet's session is not listed")
		}
		if code, _ := g.adminDo(t, "DELETE", "/api/realms/a/users/"+alice+"/sessions/"+ref); code != http.StatusOK {
			t.Fatalf("admin revoke = %d", code)
		}
		if who := whoAmI(tablet, g, a); who != "" {
			t.Fatalf("after the admin revoked its session the tablet is signed back in as %q", who)
		}
	}

	// The admin's revoke-all ends remembered devices too (realm a only).
	phone := web{t, client()}
	loginRemember(phone, g, a, alice, "alice-pw", true)
	bKey := keyOf(b, alice, "alice-pw")
	if code, _ := g.adminDo(t, "DELETE", "/api/realms/a/users/"+alice+"/sessions"); code != http.StatusOK {
		t.Fatalf("admin revoke-all = %d", code)
	}
	if who := whoAmI(phone, g, a); who != "" {
		t.Fatalf("after the admin's revoke-all the phone is signed back in as %q", who)
	}
	bKey = mustWork("realm b after realm a's revoke-all", b, bKey, alice)

	// A user removed from the users file (a compromised account) and added
	// back with a new password: the keys from before are dead.
	key = keyOf(a, alice, "alice-pw")
	unused := keyOf(a, alice, "alice-pw")
	data, _ := os.ReadFile(g.users)
	var rest []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, alice+":") {
			rest = append(rest, line)
		}
	}
	os.WriteFile(g.users+".new", []byte(strings.Join(rest, "\n")), 0o600)
	os.Rename(g.users+".new", g.users)
	g.proc.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(1500 * time.Millisecond)
	if who := whoAmI(withOnly(t, g, a, key), g, a); who != "" {
		t.Fatalf("a removed user's key signs in as %q", who)
	}
	key = keyOf(a, bob, "bob-password") // a key presented while alice is gone
	addUser(t, bin, g.users, alice, "new-alice-pw")
	g.proc.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(1500 * time.Millisecond)
	for host, k := range map[string]string{a: unused, b: bKey} {
		if who := whoAmI(withOnly(t, g, host, k), g, host); who != "" {
			t.Fatalf("a key issued on %s before alice was removed signs the new alice in as %q", host, who)
		}
	}
	mustWork("bob's key", a, key, bob)
}

// TestAttackRememberAcrossGateways: two gateways on one store (every store
// keys live in). The same site (realm) on both: a key is good on either,
// but once — tabs presenting one key to both gateways at once sign in
// exactly once, with no theft verdict. A site of another name (realm) on
// the second gateway, and a second gateway whose users file lacks the
// user, leave the first gateway's key alone.
func TestAttackRememberAcrossGateways(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range rememberStores {
		t.Run(st.name, func(t *testing.T) {
			alice := "alice-" + rand.Text()[:8]
			var storeYAML string
			shared := storeCase{st.name, func(t *testing.T, dir string) string {
				if storeYAML == "" {
					storeYAML = st.yaml(t, dir)
				}
				return storeYAML
			}}
			site := func(name string) string {
				return fmt.Sprintf(`
  - name: %s
    hosts: [a.localhost]
    upstream: %s
    auth: {htpasswd: {users}, remember: {enabled: true, reuse_grace: 3s}}
`, name, up.srv.URL)
			}
			users := func(path string) { addUser(t, bin, path, alice, "alice-pw") }
			g1 := startGatewayConfig(t, bin, shared, "", site("a"), users)
			g2 := startGatewayConfig(t, bin, shared, "", site("a"), users)
			other := startGatewayConfig(t, bin, shared, "", site("elsewhere"), users)
			nobody := startGatewayConfig(t, bin, shared, "", site("a"), func(path string) {
				addUser(t, bin, path, "someone-else-"+rand.Text()[:8], "someone-pw")
			})
			const host = "a.localhost"
			keyOn := func(g gateway) string {
				w := web{t, client()}
				if resp := loginRemember(w, g, host, alice, "alice-pw", true); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("login = %d", resp.StatusCode)
				}
				return rememberCookie(w, g, host)
			}

			// Another realm, and a gateway without the user: refused, and
			// the key still works at home.
			key := keyOn(g1)
			for name, g := range map[string]gateway{"another realm": other, "a gateway without the user": nobody} {
				if who := whoAmI(withOnly(t, g, host, key), g, host); who != "" {
					t.Fatalf("%s: g1's key signed in as %q", name, who)
				}
			}
			w := withOnly(t, g2, host, key)
			if who := whoAmI(w, g2, host); who != alice {
				t.Fatalf("the same realm on another gateway: the key signs in as %q, want %s", who, alice)
			}
			rotated := rememberCookie(w, g2, host)

			// One key, tabs on both gateways at once.
			signedIn := web{t, client()}
			login(signedIn, g1, host, alice, "alice-pw")
			var mu sync.Mutex
			var wg sync.WaitGroup
			n := 0
			for i := range 10 {
				g := []gateway{g1, g2}[i%2]
				wg.Go(func() {
					who := whoAmI(withOnly(t, g, host, rotated), g, host)
					mu.Lock()
					defer mu.Unlock()
					if who == alice {
						n++
					}
				})
			}
			wg.Wait()
			if n != 1 {
				t.Fatalf("10 tabs on two gateways with one key: %d signed in, want 1", n)
			}
			if who := whoAmI(signedIn, g1, host); who != alice {
				t.Fatalf("concurrent tabs within the grace were taken for theft (alice's session is %q)", who)
			}
		})
	}
}

// TestAttackBackendPlantsRememberKey: a backend (a compromised app, or one
// that reflects a header) answers with Set-Cookie __Host-remember holding
// mallory's valid key. The gateway drops it like a session cookie: the
// victim's browser never receives it, so it cannot be signed in as mallory
// on its next visit (login CSRF), and a backend cannot clear the key either.
func TestAttackBackendPlantsRememberKey(t *testing.T) {
	bin := buildSessiond(t)
	var planted atomic.Value
	planted.Store("")
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := planted.Load().(string); k != "" {
			w.Header().Add("Set-Cookie", "__Host-remember="+k+"; Path=/; Secure; HttpOnly; Max-Age=99999")
			w.Header().Add("Set-Cookie", "__HOST-REMEMBER="+k+"; Path=/; Secure")
		}
		fmt.Fprintf(w, "user=%s\n", r.Header.Get("X-Session-User"))
	}))
	defer back.Close()
	g := startGatewayConfig(t, bin, gatewayStores[0], "", fmt.Sprintf(`
  - hosts: [a.localhost]
    upstream: %s
    auth: {htpasswd: {users}, remember: {enabled: true}}
`, back.URL))
	const host = "a.localhost"
	mallory := web{t, client()}
	loginRemember(mallory, g, host, "bob", "bob-password", true)
	key := rememberCookie(mallory, g, host)
	if key == "" {
		t.Fatal("no key")
	}
	planted.Store(key)
	victim := web{t, client()}
	resp, _ := victim.do("GET", g.url(host, "/page"), nil)
	for _, l := range resp.Header.Values("Set-Cookie") {
		if strings.Contains(strings.ToLower(l), "remember") {
			t.Fatalf("the backend's Set-Cookie reached the client: %q", l)
		}
	}
	if who := whoAmI(victim, g, host); who != "" {
		t.Fatalf("a key planted by the backend signed the victim in as %q", who)
	}
	// Nor can a backend clear a signed-in browser's key.
	planted.Store("")
	alice := web{t, client()}
	loginRemember(alice, g, host, "alice", "alice-pw", true)
	planted.Store(`""; Max-Age=0`)
	alice.do("GET", g.url(host, "/page"), nil)
	if rememberCookie(alice, g, host) == "" {
		t.Fatal("the backend cleared alice's remember cookie")
	}
}

// TestAttackRememberOverPlainHTTP: on a mixed-mode site (which serves plain
// HTTP), a valid remember key sent over plain HTTP signs no one in and is
// not consumed; it still works over HTTPS.
func TestAttackRememberOverPlainHTTP(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	g := startGatewayConfig(t, bin, gatewayStores[0], "", fmt.Sprintf(`
  - hosts: [m.localhost]
    upstream: %s
    session: {mode: mixed}
    auth: {htpasswd: {users}, remember: {enabled: true}}
`, up.srv.URL))
	const host = "m.localhost"
	w := web{t, client()}
	if resp := loginRemember(w, g, host, "alice", "alice-pw", true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login = %d", resp.StatusCode)
	}
	key := rememberCookie(w, g, host)
	cfg, _ := os.ReadFile(g.config)
	m := regexp.MustCompile(`http: \{addr: "127\.0\.0\.1:(\d+)"\}`).FindSubmatch(cfg)
	for _, p := range []string{"/who", "/login", "/p?replace=x%3D1"} {
		req, _ := http.NewRequest("GET", "http://"+host+":"+string(m[1])+p, nil)
		req.Header.Set("Cookie", "__Host-remember="+key)
		c := client()
		c.Jar = nil
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 || strings.Contains(string(body), "user=alice") {
			t.Fatalf("the key over plain HTTP %s: %d %q", p, resp.StatusCode, body)
		}
		for _, l := range resp.Header.Values("Set-Cookie") {
			if strings.Contains(l, "remember") {
				t.Fatalf("plain HTTP %s touched the remember cookie: %q", p, l)
			}
		}
		if strings.Contains(up.seen().Get("Cookie"), "remember") {
			t.Fatalf("the key sent over plain HTTP reached the backend: %q", up.seen().Get("Cookie"))
		}
	}
	if who := whoAmI(withOnly(t, g, host, key), g, host); who != "alice" {
		t.Fatalf("after plain-HTTP attempts the key signs in as %q over HTTPS", who)
	}
}

package main_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestAttackMixedLoginRace (concurrent logins join in mixed mode), against
// the built binary on the server stores: while alice logs in on several
// tabs of a session whose insecure sid has travelled in clear, a sniffer
// holding only that sid logs in as bob and polls over HTTP and HTTPS, and
// a tab of the same browser logs in as bob. No sniffer request ever sees
// alice, no sniffer ends up with alice's new IDs, and no login joins a
// login of another user.
func TestAttackMixedLoginRace(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range append(serverStores(), rememberStores[len(rememberStores)-1]) {
		t.Run(st.name, func(t *testing.T) {
			g := startGatewayConfig(t, bin, st, "", fmt.Sprintf(`
  - hosts: [m.localhost]
    upstream: %s
    session: {mode: mixed}
    auth: {htpasswd: {users}, rate_limit: {per_user: {attempts: 1000, per: 1m}, per_ip: {attempts: 1000, per: 1m}}}
`, up.srv.URL))
			cfg, _ := os.ReadFile(g.config)
			m := regexp.MustCompile(`http: \{addr: "127\.0\.0\.1:(\d+)"\}`).FindSubmatch(cfg)
			if m == nil {
				t.Fatal("no HTTP port in the config")
			}
			plain := "http://m.localhost:" + string(m[1])
			// Rounds with the sniffer only: every alice login that answers
			// 303 is signed in. Rounds with a rival tab logging in as bob on
			// the same session too: one of the two users loses (its 303 may
			// carry cookies that are not signed in), but never joins the
			// other.
			for round := range 16 {
				mixedLoginRound(t, g, plain, round, round%2 == 1)
			}
		})
	}
}

func mixedLoginRound(t *testing.T, g gateway, plain string, round int, rival bool) {
	const host = "m.localhost"
	victim := web{t, client()}
	victim.do("GET", plain+"/p?replace=cart%3D1", nil) // sid travels in clear
	whoAmI(victim, g, host)                            // and the secure ID is set over HTTPS
	su, _ := url.Parse(g.url(host, "/"))
	before := victim.c.Jar.Cookies(su)
	sniffed := ""
	for _, c := range before {
		if c.Name == "sid" {
			sniffed = c.Value
		}
	}
	if sniffed == "" {
		t.Fatal("setup: no insecure sid")
	}
	tab := func(only bool) (web, string) {
		jar, _ := cookiejar.New(nil)
		for _, c := range before {
			if !only || c.Name == "sid" {
				jar.SetCookies(su, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/", Secure: strings.HasPrefix(c.Name, "__Host-")}})
			}
		}
		c := client()
		c.Jar = jar
		w := web{t, c}
		_, page := w.do("GET", g.url(host, "/login"), nil)
		return w, field(page, "csrf_token")
	}
	type attempt struct {
		w        web
		token    string
		user, pw string
		sniffer  bool
		code     int
	}
	var tabs []*attempt
	for range 3 {
		w, tok := tab(false)
		tabs = append(tabs, &attempt{w: w, token: tok, user: "alice", pw: "alice-pw"})
	}
	if rival {
		w, tok := tab(false) // the same browser, another user
		tabs = append(tabs, &attempt{w: w, token: tok, user: "bob", pw: "bob-password"})
	}
	for range 2 {
		w, tok := tab(true)
		tabs = append(tabs, &attempt{w: w, token: tok, user: "bob", pw: "bob-password", sniffer: true})
	}

	var mu sync.Mutex
	var seen []string
	var given []*http.Cookie // cookies the sniffer's requests were given
	poll := func(u string) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Cookie", "sid="+sniffed)
		c := client()
		c.Jar = nil
		resp, err := c.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		var b strings.Builder
		fmt.Fprint(&b, resp.StatusCode, " ", resp.Header.Values("Set-Cookie"), " ")
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		mu.Lock()
		given = append(given, resp.Cookies()...)
		seen = append(seen, b.String())
		mu.Unlock()
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, a := range tabs {
		wg.Go(func() {
			<-start
			resp, _ := a.w.do("POST", g.url(host, "/login"), url.Values{"csrf_token": {a.token},
				"username": {a.user}, "password": {a.pw}, "next": {"/"}})
			a.code = resp.StatusCode
		})
	}
	for range 4 {
		wg.Go(func() {
			<-start
			for range 5 {
				poll(plain + "/who")
				poll(g.url(host, "/who"))
			}
		})
	}
	close(start)
	wg.Wait()

	alice := map[string]bool{} // alice's IDs after the logins
	for _, a := range tabs {
		if a.sniffer || a.code != http.StatusSeeOther {
			continue
		}
		who := whoAmI(a.w, g, host)
		if who != a.user && who != "" {
			t.Fatalf("round %d: %s's login joined %q's", round, a.user, who)
		}
		if who == "" && !rival {
			var codes []string
			for _, b := range tabs {
				codes = append(codes, fmt.Sprint(b.user, b.sniffer, b.code))
			}
			t.Errorf("round %d: %s's login answered 303 with cookies that are not signed in (logins: %v)", round, a.user, codes)
		}
		if who == "alice" {
			for _, c := range a.w.c.Jar.Cookies(su) {
				alice[c.Name+"="+c.Value] = true
			}
		}
	}
	for _, a := range tabs {
		if !a.sniffer {
			continue
		}
		for _, c := range a.w.c.Jar.Cookies(su) {
			if alice[c.Name+"="+c.Value] {
				t.Fatalf("round %d: the sniffer's login (code %d) holds alice's new %s", round, a.code, c.Name)
			}
		}
		if who := whoAmI(a.w, g, host); who == "alice" {
			t.Fatalf("round %d: the sniffer's login (code %d) is signed in as alice", round, a.code)
		}
		if _, body := a.w.do("GET", plain+"/who", nil); strings.Contains(body, "user=alice") {
			t.Fatalf("round %d: the sniffer over HTTP sees alice", round)
		}
	}
	// Nothing the sniffer's requests were given leads to alice's session
	// (marked over HTTPS by a signed-in tab, readable over HTTP by its IDs).
	mark := fmt.Sprintf("mark-%d-%s", round, rand.Text()[:6])
	for _, a := range tabs {
		if !a.sniffer && a.code == http.StatusSeeOther && whoAmI(a.w, g, host) == "alice" {
			a.w.do("GET", g.url(host, "/p?replace=mk%3D"+mark), nil)
			if _, body := a.w.do("GET", plain+"/who", nil); !strings.Contains(body, mark) {
				t.Logf("round %d: alice's own tab over HTTP does not see the mark: %q", round, body)
			}
			break
		}
	}
	for _, c := range given {
		if c.Value == "" {
			continue
		}
		for _, u := range []string{plain, g.url(host, "")} {
			if _, body := withCookie(t, u+"/", c.Name, c.Value).do("GET", u+"/who", nil); strings.Contains(body, mark) {
				t.Fatalf("round %d: the sniffed sid was answered with %s=%s, which reaches alice's session over %s: %q", round, c.Name, c.Value, u, body)
			}
		}
	}
	for _, c := range given {
		if c.Value == "" {
			continue
		}
		for _, u := range []string{plain, g.url(host, "")} {
			if who := whoAmI(withCookie(t, u+"/", c.Name, c.Value), g, host); who != "" {
				t.Fatalf("round %d: the sniffed sid was answered with %s=%s, which is signed in as %q", round, c.Name, c.Value, who)
			}
			if _, body := withCookie(t, u+"/", c.Name, c.Value).do("GET", u+"/who", nil); strings.Contains(body, "user=alice") {
				t.Fatalf("round %d: the sniffed sid was answered with %s=%s, which reaches alice's session over %s", round, c.Name, c.Value, u)
			}
		}
	}
	for _, s := range seen {
		if strings.Contains(s, "user=alice") {
			t.Fatalf("round %d: a request with the sniffed sid saw alice: %s", round, s)
		}
		for id := range alice {
			if strings.Contains(s, id) {
				t.Fatalf("round %d: a request with the sniffed sid was given alice's %s", round, id)
			}
		}
	}
}

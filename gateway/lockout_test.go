package gateway

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/login/form"
	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

func cookieValue(c *http.Client, u, name string) string {
	pu, _ := url.Parse(u)
	for _, ck := range c.Jar.Cookies(pu) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// TestLockoutCannotLockOutKnownDevice: an attacker's wrong guesses for
// alice exhaust the per-user limit, yet alice still signs in from the
// browser she used before (device cookie), while a new client — or the
// attacker with the right password — is still refused. A stolen device
// cookie gets its own small budget and is then locked out.
func TestLockoutCannotLockOutKnownDevice(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) {
		sc.Auth.RateLimit = config.AuthRateLimit{PerIP: config.Rate{Attempts: 10, Per: time.Minute},
			PerUser: config.Rate{Attempts: 5, Per: time.Minute}, PerDevice: config.Rate{Attempts: 3, Per: time.Hour}}
	})
	victim := g.client()
	if resp := doLogin(g, victim, "alice", "alice-pw", "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first login = %d", resp.StatusCode)
	}
	oldDevice := cookieValue(victim, g.httpsURL, form.DeviceCookieName)
	if oldDevice == "" {
		t.Fatal("no device cookie after a successful sign-in")
	}
	g.do(victim, "GET", g.httpsURL+"/p", nil, nil)
	if strings.Contains(g.backend.seen().Get("Cookie"), form.DeviceCookieName) {
		t.Fatal("the device cookie reached the backend")
	}

	attacker := g.client()
	code := 0
	for range 12 {
		code = doLogin(g, attacker, "alice", "guess", "/").StatusCode
	}
	if code != http.StatusTooManyRequests {
		t.Fatalf("12 wrong guesses: last = %d, want 429", code)
	}
	if code := doLogin(g, g.client(), "alice", "alice-pw", "/").StatusCode; code != http.StatusTooManyRequests {
		t.Fatalf("right password from a new client during the lockout = %d, want 429 (distributed guessing must stay stopped)", code)
	}
	if code := doLogin(g, victim, "alice", "alice-pw", "/").StatusCode; code != http.StatusSeeOther {
		t.Fatalf("alice from her known browser during the attack = %d, want 303", code)
	}
	if _, body := g.do(victim, "GET", g.httpsURL+"/p", nil, nil); !strings.Contains(body, "user=alice") {
		t.Fatalf("alice not signed in: %q", body)
	}

	// A device cookie for alice does not vouch for another user name, nor
	// does a tampered one.
	if trusted := newTestDevices(t, g).Trusted(reqWithDevice(oldDevice), "bob"); trusted {
		t.Fatal("alice's device cookie trusted for bob")
	}
	parts := strings.Split(oldDevice, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte("bob"))
	if trusted := newTestDevices(t, g).Trusted(reqWithDevice(strings.Join(parts, ".")), "bob"); trusted {
		t.Fatal("a device cookie with its user changed was trusted")
	}

	// The attacker steals the old device cookie: 3 guesses, then it is
	// locked out and counts as untrusted (the per-user limit applies).
	thief := g.client()
	u, _ := url.Parse(g.httpsURL)
	thief.Jar.SetCookies(u, []*http.Cookie{{Name: form.DeviceCookieName, Value: oldDevice, Path: "/", Secure: true}})
	for i := range 3 {
		if code := doLogin(g, thief, "alice", "guess", "/").StatusCode; code != http.StatusUnauthorized {
			t.Fatalf("guess %d with the stolen device cookie = %d, want 401", i, code)
		}
	}
	if code := doLogin(g, thief, "alice", "alice-pw", "/").StatusCode; code != http.StatusTooManyRequests {
		t.Fatalf("locked-out device cookie with the right password = %d, want 429", code)
	}
	// alice's current browser holds a newer device cookie: unaffected.
	if code := doLogin(g, victim, "alice", "alice-pw", "/").StatusCode; code != http.StatusSeeOther {
		t.Fatalf("alice after her old device cookie was locked out = %d, want 303", code)
	}
}

func newTestDevices(t *testing.T, g *gw) *form.Method {
	t.Helper()
	for _, s := range g.g.order {
		for _, m := range s.methods {
			if f, ok := m.(*form.Method); ok {
				return f
			}
		}
	}
	t.Fatal("no login")
	return nil
}

func reqWithDevice(v string) *http.Request {
	r := httptest.NewRequest("POST", "https://app.test/login", nil)
	r.AddCookie(&http.Cookie{Name: form.DeviceCookieName, Value: v})
	return r
}

// TestUnknownIDThrottlePerGateway: guesses spread over two sites count
// once, and a valid session on the throttled address is still served.
func TestUnknownIDThrottlePerGateway(t *testing.T) {
	be := newEchoBackend(t)
	up, _ := url.Parse(be.srv.URL)
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := portOf(srv.URL)
	var sites []config.Site
	for _, h := range []string{"a.test", "b.test"} {
		sc := config.DefaultSite()
		sc.Hosts, sc.Upstream = []string{h}, up.String()
		sites = append(sites, sc)
	}
	cfg := testConfig(t, "80", port, sites...)
	cfg.Limits.UnknownIDs = config.Rate{Attempts: 6, Per: time.Minute}
	store := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { store.Close() })
	gwy, err := New(cfg, Runtime{Store: store, State: store, Auditor: &session.SlogAuditor{}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = gwy
	g := &gw{t: t, g: gwy, backend: be, httpsURL: "https://a.test:" + port}
	g.transport = startGateway(t, nil).transport
	c := g.client()
	_, body := g.do(c, "GET", "https://a.test:"+port+"/p?replace=k%3Dkept", nil, nil)
	if _, body = g.do(c, "GET", "https://a.test:"+port+"/p", nil, nil); !strings.Contains(body, "k=kept") {
		t.Fatalf("no session: %q", body)
	}
	raw := &http.Client{Transport: g.transport}
	guess := func(host string) int {
		id, _ := token.New()
		resp, _ := g.do(raw, "GET", "https://"+host+":"+port+"/p", nil, http.Header{"Cookie": {"__Host-sid=" + id}})
		return resp.StatusCode
	}
	for i := range 6 {
		host := []string{"a.test", "b.test"}[i%2]
		if code := guess(host); code != http.StatusOK {
			t.Fatalf("guess %d refused early: %d", i, code)
		}
	}
	for _, host := range []string{"a.test", "b.test"} {
		if code := guess(host); code != http.StatusTooManyRequests {
			t.Fatalf("guess on %s past the gateway-wide limit = %d, want 429", host, code)
		}
	}
	resp, body := g.do(c, "GET", "https://a.test:"+port+"/p", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "k=kept") {
		t.Fatalf("valid session on the throttled address = %d %q", resp.StatusCode, body)
	}
}

// TestDeviceCookieSurvivesLogout: a logout's Clear-Site-Data makes a
// browser drop every cookie of the site, the device cookie too; the
// logout's redirect puts it back once (a one-time token), so a browser
// that signed out is still trusted while an attacker keeps alice locked.
func TestDeviceCookieSurvivesLogout(t *testing.T) {
	g := startGateway(t, nil)
	c := g.client()
	doLogin(g, c, "alice", "alice-pw", "/")
	device := cookieValue(c, g.httpsURL, form.DeviceCookieName)
	_, page := g.do(c, "GET", g.httpsURL+"/login", nil, nil)
	resp, _ := g.do(c, "POST", g.httpsURL+"/logout", url.Values{"csrf_token": {between(page, `name="csrf_token" value="`, `"`)}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Clear-Site-Data") == "" {
		t.Fatalf("logout = %d, Clear-Site-Data %q", resp.StatusCode, resp.Header.Get("Clear-Site-Data"))
	}
	restore := resp.Header.Get("Location")
	if !strings.HasPrefix(restore, form.DeviceRestorePath+"?") {
		t.Fatalf("logout leads to %q, not through the device restore", restore)
	}
	// What the browser does with Clear-Site-Data: "cookies".
	c = g.client()
	resp, _ = g.do(c, "GET", g.httpsURL+restore, nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("restore = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	back := cookieValue(c, g.httpsURL, form.DeviceCookieName)
	if back == "" || strings.Split(back, ".")[2] != strings.Split(device, ".")[2] {
		t.Fatalf("device cookie not restored: %q (was %q)", back, device)
	}
	// The token works once, and only as signed.
	for _, u := range []string{restore, strings.Replace(restore, "t=r1.", "t=r1.x", 1)} {
		other := g.client()
		g.do(other, "GET", g.httpsURL+u, nil, nil)
		if v := cookieValue(other, g.httpsURL, form.DeviceCookieName); v != "" {
			t.Fatalf("restore token %q set a device cookie again", u)
		}
	}
	attacker := g.client()
	for range 12 {
		doLogin(g, attacker, "alice", "guess", "/")
	}
	if code := doLogin(g, c, "alice", "alice-pw", "/").StatusCode; code != http.StatusSeeOther {
		t.Fatalf("alice after signing out, during the attack = %d, want 303", code)
	}
}

// TestRetryAfter: the throttled answers' Retry-After is whole seconds,
// never less than the wait (a client retrying on time is let in).
func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		wait time.Duration
		want string
	}{
		{"no wait", 0, "1"},
		{"under a second", 300 * time.Millisecond, "1"},
		{"a second and a half", 1500 * time.Millisecond, "2"},
		{"a minute", time.Minute, "61"},
		{"an hour", time.Hour, "3601"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := login.RetryAfter(tt.wait); got != tt.want {
				t.Fatalf("login.RetryAfter(%v) = %q, want %q", tt.wait, got, tt.want)
			}
		})
	}
}

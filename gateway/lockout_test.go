package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

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
	g := startGateway(t, func(sc *SiteConfig) { sc.DeviceAttempts = 3 })
	victim := g.client()
	if resp := doLogin(g, victim, "alice", "alice-pw", "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first login = %d", resp.StatusCode)
	}
	oldDevice := cookieValue(victim, g.httpsURL, deviceCookieName)
	if oldDevice == "" {
		t.Fatal("no device cookie after a successful sign-in")
	}
	g.do(victim, "GET", g.httpsURL+"/p", nil, nil)
	if strings.Contains(g.backend.seen().Get("Cookie"), deviceCookieName) {
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
	if _, trusted := newTestDevices(t, g).trusted(reqWithDevice(oldDevice), "bob"); trusted {
		t.Fatal("alice's device cookie trusted for bob")
	}
	parts := strings.Split(oldDevice, ".")
	parts[1] = b64.EncodeToString([]byte("bob"))
	if _, trusted := newTestDevices(t, g).trusted(reqWithDevice(strings.Join(parts, ".")), "bob"); trusted {
		t.Fatal("a device cookie with its user changed was trusted")
	}

	// The attacker steals the old device cookie: 3 guesses, then it is
	// locked out and counts as untrusted (the per-user limit applies).
	thief := g.client()
	u, _ := url.Parse(g.httpsURL)
	thief.Jar.SetCookies(u, []*http.Cookie{{Name: deviceCookieName, Value: oldDevice, Path: "/", Secure: true}})
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

func newTestDevices(t *testing.T, g *gw) *devices {
	t.Helper()
	for _, s := range g.g.order {
		if s.login != nil {
			return s.login.devices
		}
	}
	t.Fatal("no login")
	return nil
}

func reqWithDevice(v string) *http.Request {
	r := httptest.NewRequest("POST", "https://app.test/login", nil)
	r.AddCookie(&http.Cookie{Name: deviceCookieName, Value: v})
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
	var sites []SiteConfig
	for _, h := range []string{"a.test", "b.test"} {
		sites = append(sites, SiteConfig{Name: h, Hosts: []string{h}, Upstream: up, HTTPSOrigin: "https://" + h + ":" + port})
	}
	store := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { store.Close() })
	gwy, err := New(Config{Sites: sites, Store: store, UnknownIDLimit: 6, Auditor: &session.SlogAuditor{}})
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

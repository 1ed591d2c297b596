package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/htpasswd"
	"github.com/sessiond/sessiond/gateway/login/form"
)

func whoIs(g *gw, c *http.Client) string {
	g.t.Helper()
	_, body := g.do(c, "GET", g.httpsURL+"/p", nil, nil)
	return between(body+"\n", "user=", "\n")
}

// TestRemovedUserLosesSessions: alice is removed from the users file; on
// the reload every session of hers is revoked in the store and her next
// request is anonymous. A user that the backend signed in is the
// backend's: not touched.
func TestRemovedUserLosesSessions(t *testing.T) {
	g := startGateway(t, nil)
	if err := htpasswd.Add(g.users, "bob", "bob-pw", 4); err != nil {
		t.Fatal(err)
	}
	g.g.ReloadUsers()
	a, b, bob, be := g.client(), g.client(), g.client(), g.client()
	for _, c := range []*http.Client{a, b} {
		if resp := doLogin(g, c, "alice", "alice-pw", "/"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login = %d", resp.StatusCode)
		}
	}
	doLogin(g, bob, "bob", "bob-pw", "/")
	g.do(be, "GET", g.httpsURL+"/p?action="+url.QueryEscape("login user=zed"), nil, nil)
	if whoIs(g, a) != "alice" || whoIs(g, bob) != "bob" || whoIs(g, be) != "zed" {
		t.Fatal("not signed in")
	}
	if err := htpasswd.Remove(g.users, "alice"); err != nil {
		t.Fatal(err)
	}
	g.g.ReloadUsers()
	recs, err := g.g.store.ListUser(context.Background(), "alice")
	if err != nil || len(recs) != 0 {
		t.Fatalf("after the reload alice has %d records in the store (%v), want 0", len(recs), err)
	}
	if who := whoIs(g, a); who != "" {
		t.Fatalf("removed user's session still acts as %q", who)
	}
	if whoIs(g, bob) != "bob" || whoIs(g, be) != "zed" {
		t.Fatal("other users were signed out")
	}
	if resp := doLogin(g, b, "alice", "alice-pw", "/"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("removed user signs in = %d, want 401", resp.StatusCode)
	}
}

// TestRemovedUserSignedOutWithoutRevocation: even when the revocation on
// reload cannot reach a session (a cookie store, or a file changed while
// the gateway was down), the removed user's request is anonymous.
func TestRemovedUserSignedOutWithoutRevocation(t *testing.T) {
	g := startGateway(t, nil)
	f, err := htpasswd.Open(htpasswd.Config{Path: g.users, CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range g.g.order {
		// Sees the change at once, and revokes nothing: only the per-request check is left.
		m, err := form.New(s.formConfig(g.g, f), cannotRevoke{loginSite{s}})
		if err != nil {
			t.Fatal(err)
		}
		s.useMethods(m)
	}
	a := g.client()
	doLogin(g, a, "alice", "alice-pw", "/")
	if err := htpasswd.Remove(g.users, "alice"); err != nil {
		t.Fatal(err)
	}
	if who := whoIs(g, a); who != "" {
		t.Fatalf("removed user's session still acts as %q", who)
	}
}

// TestReauthBeforeRevokingOthers: past ReauthAfter, a copied cookie alone
// cannot sign its owner out everywhere: the sessions page asks for the
// password; a wrong one is refused; the right one works.
func TestReauthBeforeRevokingOthers(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) { sc.Auth.ReauthAfter = time.Second })
	// ReauthAfter is 1s: everything after the password is proven below runs well within it.
	owner, other := g.client(), g.client()
	doLogin(g, owner, "alice", "alice-pw", "/")
	doLogin(g, other, "alice", "alice-pw", "/")
	// The attacker has only a copy of the owner's session cookie.
	thief := g.client()
	u, _ := url.Parse(g.httpsURL)
	thief.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-sid", Value: cookieValue(owner, g.httpsURL, "__Host-sid"), Path: "/", Secure: true}})
	if whoIs(g, thief) != "alice" {
		t.Fatal("the copied cookie does not work")
	}
	time.Sleep(1200 * time.Millisecond)
	_, page := g.do(thief, "GET", g.httpsURL+sessionsPage, nil, nil)
	if !strings.Contains(page, `name="password"`) {
		t.Fatalf("stale sessions page asks for no password:\n%s", page)
	}
	tok := between(page, `name="csrf_token" value="`, `"`)
	ref := between(page, `<tr data-ref="`, `"`)
	for _, pw := range []string{"", "wrong"} {
		for _, action := range []string{"/revoke-others", "/revoke"} {
			resp, _ := g.do(thief, "POST", g.httpsURL+sessionsPage+action, url.Values{"csrf_token": {tok}, "ref": {ref}, "password": {pw}}, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s with password %q = %d, want 401", action, pw, resp.StatusCode)
			}
		}
	}
	if whoIs(g, other) != "alice" {
		t.Fatal("the other session was revoked without the password")
	}
	resp, _ := g.do(owner, "POST", g.httpsURL+sessionsPage+"/revoke-others", url.Values{"csrf_token": {tok}, "password": {"alice-pw"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke-others with the password = %d, want 303", resp.StatusCode)
	}
	if whoIs(g, other) != "" {
		t.Fatal("the other session survived revoke-others")
	}
	// Just proven: the next action needs no password.
	_, page = g.do(owner, "GET", g.httpsURL+sessionsPage, nil, nil)
	if strings.Contains(page, `name="password"`) {
		t.Fatal("asked for the password right after it was proven")
	}
}

// cannotRevoke is a site whose store cannot revoke a user's sessions.
type cannotRevoke struct{ loginSite }

func (cannotRevoke) RevokeUser(context.Context, string) (int, error) { return 0, errors.ErrUnsupported }

package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/pages"
	"github.com/sessiond/sessiond/session"
)

// probe is a second login method of the kind single sign-on is: its own
// routes, a button on the login page, extra identity and data kept in the
// session, a per-request check, a sign-out detour.
type probe struct {
	site    login.Site
	mu      sync.Mutex
	revoked map[string]bool
	forgot  []string
}

func (p *probe) Name() string { return "probe" }
func (p *probe) Routes() []login.Route {
	return []login.Route{{Path: "/.sessiond/probe/callback", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("user") == "mallory" {
			p.site.Audit(r, session.Event{Type: "login.refused", User: "mallory"})
			p.site.ErrorPage(w, http.StatusForbidden, "mallory is not in an allowed group.")
			return
		}
		err := p.site.SignIn(w, r, login.SignIn{User: q.Get("user"), Method: "probe", Proven: true,
			Email: q.Get("user") + "@example.test", Groups: []string{"staff", "ops"}, Data: map[string]string{"token": "tok-secret"}})
		if err != nil {
			p.site.ErrorPage(w, http.StatusInternalServerError, err.Error())
			return
		}
		http.Redirect(w, r, login.SafeNext(q.Get("next")), http.StatusSeeOther)
	})}, {Path: "/.sessiond/probe/backchannel", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A provider's server-to-server call: no browser, no CSRF token.
		if err := p.site.RevokeSession(r.Context(), r.PostFormValue("user"), r.PostFormValue("ref")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})}}
}
func (p *probe) Offer(_ *http.Request, next string) login.Offer {
	return login.Offer{Buttons: []pages.Provider{{ID: "probe", Name: "Probe",
		URL: "/.sessiond/probe/callback?user=sam&next=" + url.QueryEscape(next)}}}
}
func (p *probe) Recognize(http.ResponseWriter, *http.Request, *session.Session) {}
func (p *probe) Vouches(_ http.ResponseWriter, _ *http.Request, sess *session.Session) (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.revoked[sess.User()] && sess.Get(login.DataKey("probe", "token")) == "tok-secret", "probe.revoked"
}
func (p *probe) SignOut(_ http.ResponseWriter, _ *http.Request, _ *session.Session, next string) string {
	return "/.sessiond/probe/bye?then=" + url.QueryEscape(next)
}
func (p *probe) ForgetUser(_ context.Context, _ http.ResponseWriter, _ *http.Request, user string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forgot = append(p.forgot, user)
	return nil
}
func (p *probe) Cookies() []string { return []string{"probe-state"} }

// addProbe adds a probe login method to the test gateway's site, after
// its own methods.
func addProbe(g *gw) *probe {
	s := g.g.sites[testHost]
	p := &probe{site: loginSite{s}, revoked: map[string]bool{}}
	s.useMethods(append(s.methods, p)...)
	return p
}

// TestLoginSeamSecondMethod: a login method beside the form login gets its
// button on the one login page, signs a user in with a new session ID and
// identity the backend never sees as data, is asked on each request
// whether it still vouches, and takes part in the sign-out.
func TestLoginSeamSecondMethod(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) { sc.AuthRequired = []string{"/account"} })
	p := addProbe(g)
	c := g.client()
	resp, _ := g.do(c, "GET", g.httpsURL+"/account", nil, nil)
	next := resp.Header.Get("Location")
	_, page := g.do(c, "GET", next, nil, nil)
	if !strings.Contains(page, `id="login"`) || !strings.Contains(page, `data-provider="probe"`) || !strings.Contains(page, "Sign in with Probe") {
		t.Fatalf("the login page lacks the password form or the probe's button:\n%s", page)
	}
	button := between(page, `id="probe" href="`, `"`)
	if !strings.Contains(button, "next=%2Faccount") {
		t.Fatalf("the button %q does not carry next", button)
	}
	before := cookieValue(c, g.httpsURL, "__Host-sid")
	u, _ := url.Parse(g.httpsURL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "probe-state", Value: "s3cret", Path: "/", Secure: true}})
	resp, _ = g.do(c, "GET", g.httpsURL+strings.ReplaceAll(button, "&amp;", "&"), nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account" {
		t.Fatalf("probe callback = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if after := cookieValue(c, g.httpsURL, "__Host-sid"); after == before || after == "" {
		t.Fatal("the probe's sign-in did not regenerate the session ID")
	}
	if who := whoIs(g, c); who != "sam" {
		t.Fatalf("signed in as %q, want sam", who)
	}
	seen := g.backend.seen()
	// The identity goes in its own headers; the method's data and cookies
	// never reach the backend.
	if seen.Get("X-Session-Email") != "sam@example.test" || seen.Get("X-Session-Groups") != "staff,ops" {
		t.Errorf("the backend saw email %q, groups %q", seen.Get("X-Session-Email"), seen.Get("X-Session-Groups"))
	}
	for _, secret := range []string{"tok-secret", "s3cret"} {
		for k, v := range seen {
			if strings.Contains(strings.Join(v, " "), secret) {
				t.Errorf("the backend saw %q in %s", secret, k)
			}
		}
	}

	// Logout: every method's sign-out runs; the probe's detour is where
	// the browser goes.
	_, page = g.do(c, "GET", g.httpsURL+"/login", nil, nil)
	resp, _ = g.do(c, "POST", g.httpsURL+"/logout", url.Values{"csrf_token": {between(page, `name="csrf_token" value="`, `"`)}}, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/.sessiond/probe/bye?then=") {
		t.Fatalf("logout = %d to %q, want the probe's detour", resp.StatusCode, resp.Header.Get("Location"))
	}
	if who := whoIs(g, c); who != "" {
		t.Fatalf("still %q after logout", who)
	}

	// A user the method no longer vouches for is signed out at once.
	g.do(c, "GET", g.httpsURL+"/.sessiond/probe/callback?user=sam&next=/", nil, nil)
	if who := whoIs(g, c); who != "sam" {
		t.Fatalf("signed in again as %q", who)
	}
	p.mu.Lock()
	p.revoked["sam"] = true
	p.mu.Unlock()
	if who := whoIs(g, c); who != "" {
		t.Fatalf("the probe revoked sam, yet the session acts as %q", who)
	}

	// A back-channel logout ends exactly the session it names.
	p.mu.Lock()
	p.revoked["sam"] = false
	p.mu.Unlock()
	other := g.client()
	g.do(other, "GET", g.httpsURL+"/.sessiond/probe/callback?user=sam&next=/", nil, nil)
	g.do(c, "GET", g.httpsURL+"/.sessiond/probe/callback?user=sam&next=/", nil, nil)
	if who := whoIs(g, c); who != "sam" {
		t.Fatalf("signed in again as %q", who)
	}
	ref := g.backend.seen().Get("X-Session-Ref")
	if resp, body := g.do(g.client(), "POST", g.httpsURL+"/.sessiond/probe/backchannel", url.Values{"user": {"sam"}, "ref": {ref}}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("back-channel logout = %d %q", resp.StatusCode, body)
	}
	if who := whoIs(g, c); who != "" {
		t.Fatalf("the back-channel logout left the session acting as %q", who)
	}
	if who := whoIs(g, other); who != "sam" {
		t.Fatalf("the back-channel logout of one session ended another: %q", who)
	}

	// A refusal: an audited page, nobody signed in.
	resp, body := g.do(c, "GET", g.httpsURL+"/.sessiond/probe/callback?user=mallory&next=/", nil, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not in an allowed group") || whoIs(g, c) != "" {
		t.Fatalf("refused sign-in = %d %q", resp.StatusCode, body)
	}

	// Sign out everywhere else (the admin API) reaches the method too.
	if err := g.g.forgetUser(context.Background(), "app", "sam"); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.forgot) != 1 || p.forgot[0] != "sam" {
		t.Fatalf("the probe was told to forget %v, want [sam]", p.forgot)
	}
}

// TestLoginSeamButtonOnly: a site whose only method signs in elsewhere
// serves its login page with the button and no password form.
func TestLoginSeamButtonOnly(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) { sc.Auth.Htpasswd = "" })
	addProbe(g)
	c := g.client()
	resp, page := g.do(c, "GET", g.httpsURL+"/login?next=/cart", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-provider="probe"`) || strings.Contains(page, `id="login"`) {
		t.Fatalf("login page = %d:\n%s", resp.StatusCode, page)
	}
	if resp, _ := g.do(c, "POST", g.httpsURL+"/login", url.Values{}, nil); resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST to a login page without a password form = %d", resp.StatusCode)
	}
	if resp, _ := g.do(c, "GET", g.httpURL+"/login", nil, nil); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), g.httpsURL) {
		t.Fatalf("login page over HTTP = %d to %q, want HTTPS", resp.StatusCode, resp.Header.Get("Location"))
	}
}

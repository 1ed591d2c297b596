package main_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessiond/sessiond/internal/testbrowser"
)

// oidcBrowserApp is the application behind the gateway in the browser
// tests: every page shows who is signed in (#who), the session's data
// (#cart), the scheme the browser used (#proto), a checkout link to an
// auth_required page and a logout form with the gateway's CSRF token;
// /add puts a teapot in the session's cart.
func oidcBrowserApp(t *testing.T) *httptest.Server {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/add" {
			w.Header().Set("X-Replace-Session", "cart=teapot")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		h := html.EscapeString
		fmt.Fprintf(w, `<!doctype html><title>shop</title><p id="who">user=%s</p><p id="cart">session=%s</p><p id="proto">proto=%s</p>`+
			`<a id="checkout" href="/private/checkout">Check out</a><form method="post" action="/logout">`+
			`<input type="hidden" name="%s" value="%s"><button id="signout">Sign out</button></form>`,
			h(r.Header.Get("X-Session-User")), h(r.Header.Get("X-Session")), h(r.Header.Get("X-Forwarded-Proto")),
			h(r.Header.Get("X-Session-Csrf-Field")), h(r.Header.Get("X-Session-Csrf")))
	}))
	t.Cleanup(app.Close)
	return app
}

// TestOIDCBrowser drives headless Chromium through the built binary and a
// real OpenID provider: an auth_required page sends to the login page,
// "Sign in with TestOP" to the provider's form, and back to the page that
// asked, signed in; another site signs in at once from the provider's
// session (single sign-on); logout ends the provider's session too, so
// the next sign-in asks again; a user outside the allowed groups sees
// why. Screenshots of each page go to the test artifacts.
func TestOIDCBrowser(t *testing.T) {
	bin := buildSessiond(t)
	app := oidcBrowserApp(t)
	g := startOIDCGateway(t, bin, gatewayStores[0], app.URL, 5*time.Minute, 15*time.Minute)
	b := testbrowser.Launch(t, testbrowser.Options{HostRules: "MAP *.localhost 127.0.0.1", Timeout: 60 * time.Second})
	p := &page{t: t, ctx: b.Tab, b: b, dir: testbrowser.ArtifactDir(t)}
	// toLogin visits host's /private and lands on its login page.
	toLogin := func(what, host string) {
		t.Helper()
		p.navigate(what, g.url(host, "/login?next=%2Fprivate"), http.StatusOK, chromedp.Navigate(g.url(host, "/private")))
	}
	signInAtProvider := func(what, user, landing string) {
		t.Helper()
		p.do(what+": the provider's form", chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name=username]`), user))
		p.screenshot("provider-form")
		p.navigate(what+": back from the provider", landing, http.StatusOK, chromedp.Click(chromedp.ID("signin"), chromedp.NodeVisible))
	}

	toLogin("anonymous /private", "app.localhost")
	p.screenshot("login-page")
	p.want("login page", "oidc", "Sign in with TestOP")
	p.do("to the provider", chromedp.Click(chromedp.ID("oidc"), chromedp.NodeVisible))
	signInAtProvider("alice", "alice", g.url("app.localhost", "/private"))
	p.want("after sign-in", "who", "user=u-alice")

	// Single sign-on: the staff site signs alice in from the provider's
	// session, without its form.
	toLogin("staff site", "staff.localhost")
	p.navigate("single sign-on", g.url("staff.localhost", "/private"), http.StatusOK, chromedp.Click(chromedp.ID("oidc"), chromedp.NodeVisible))
	p.want("single sign-on", "who", "user=u-alice")

	// Logout on app.localhost ends the provider's session: back on the
	// site's home, signed out, and the next sign-in asks at the provider.
	p.navigate("app again", g.url("app.localhost", "/private"), http.StatusOK, chromedp.Navigate(g.url("app.localhost", "/private")))
	defer func() {
		if t.Failed() {
			data, _ := os.ReadFile(g.audit)
			t.Logf("audit:\n%s", testbrowser.Tail(string(data), 3000))
		}
	}()
	p.navigate("logout", g.url("app.localhost", "/"), http.StatusOK, chromedp.Click(chromedp.ID("signout"), chromedp.NodeVisible))
	p.want("after logout", "who", "user=")
	p.wantNot("after logout", "who", "u-alice")
	// The provider's logout reached the staff site by its back channel.
	for i := 0; ; i++ {
		var staff bool
		for _, d := range g.op.Deliveries() {
			staff = staff || (d.ClientID == "staff.localhost" && d.Status == http.StatusOK)
		}
		if staff {
			break
		}
		if i == 40 {
			p.fatalf("no back-channel logout delivered to the staff site: %+v", g.op.Deliveries())
		}
		time.Sleep(50 * time.Millisecond)
	}
	toLogin("staff site after the provider's logout", "staff.localhost")

	// The next sign-in asks at the provider again: mallory this time.
	toLogin("signed out", "app.localhost")
	p.do("to the provider again", chromedp.Click(chromedp.ID("oidc"), chromedp.NodeVisible))
	signInAtProvider("mallory", "mallory", g.url("app.localhost", "/private"))
	p.want("mallory on app", "who", "user=u-mallory")

	// mallory is not staff: the staff site's refusal says why.
	toLogin("staff site as mallory", "staff.localhost")
	resp, err := chromedp.RunResponse(p.ctx, chromedp.Click(chromedp.ID("oidc"), chromedp.NodeVisible))
	if err != nil || resp.Status != http.StatusForbidden || !strings.HasPrefix(resp.URL, g.url("staff.localhost", "/.sessiond/oidc/callback?")) {
		p.fatalf("mallory's sign-in on the staff site: %v, want 403 at the callback", err)
	}
	p.screenshot("refused")
	if s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string]("document.body.innerText")); err != nil || !strings.Contains(s, "not in a group") {
		p.fatalf("refusal page says %q (%v)", s, err)
	}
}

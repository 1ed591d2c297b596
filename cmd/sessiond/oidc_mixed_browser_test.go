package main_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessiond/sessiond/internal/testbrowser"
)

// TestOIDCBrowserMixedMode drives headless Chromium through the built
// binary on mixed-mode sites: an anonymous visit over plain HTTP puts
// something in the cart; checking out (an auth_required page) steps up to
// HTTPS and the sign-in at the provider, and comes back signed in with the
// cart kept; over plain HTTP the backend then sees the cart but not the
// user; the second site signs the browser in from the provider's session
// without its form (single sign-on). Screenshots go to the test
// artifacts.
func TestOIDCBrowserMixedMode(t *testing.T) {
	bin := buildSessiond(t)
	app := oidcBrowserApp(t)
	g := startOIDCGateway(t, bin, gatewayStores[0], app.URL, 5*time.Minute, 15*time.Minute, "    session: {mode: mixed}\n")
	defer func() {
		if t.Failed() {
			data, _ := os.ReadFile(g.audit)
			t.Logf("audit:\n%s", testbrowser.Tail(string(data), 3000))
		}
	}()
	b := testbrowser.Launch(t, testbrowser.Options{HostRules: "MAP *.localhost 127.0.0.1", Timeout: 60 * time.Second})
	p := &page{t: t, ctx: b.Tab, b: b, dir: testbrowser.ArtifactDir(t)}
	plain := fmt.Sprintf("http://app.localhost:%d", g.http)

	// overHTTP shows the shop over plain HTTP: the cart, never a user.
	overHTTP := func(what, shot string) {
		t.Helper()
		p.navigate(what, plain+"/", http.StatusOK, chromedp.Navigate(plain+"/"))
		p.want(what, "cart", "cart=teapot")
		p.want(what, "who", "user=")
		p.wantNot(what, "who", "u-alice")
		p.screenshot(shot)
	}
	p.navigate("anonymous, over HTTP", plain+"/add", http.StatusOK, chromedp.Navigate(plain+"/add"))
	overHTTP("anonymous over HTTP", "mixed-http-cart")

	// Checking out needs a signed-in user: to the HTTPS login page.
	p.navigate("check out", g.url("app.localhost", "/login?next=%2Fprivate%2Fcheckout"), http.StatusOK,
		chromedp.Click(chromedp.ID("checkout"), chromedp.NodeVisible))
	p.screenshot("mixed-login-https")
	p.want("login page", "oidc", "Sign in with TestOP")
	p.do("to the provider", chromedp.Click(chromedp.ID("oidc"), chromedp.NodeVisible))
	p.do("the provider's form", chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "alice"))
	p.screenshot("mixed-provider-form")
	p.navigate("back from the provider", g.url("app.localhost", "/private/checkout"), http.StatusOK,
		chromedp.Click(chromedp.ID("signin"), chromedp.NodeVisible))
	p.want("checkout over HTTPS", "who", "user=u-alice")
	p.want("checkout over HTTPS", "cart", "cart=teapot")
	p.want("checkout over HTTPS", "proto", "proto=https")
	p.screenshot("mixed-checkout-https")

	// Back over plain HTTP: the same session (the cart), no user.
	overHTTP("signed in, over HTTP", "mixed-http-after-sign-in")

	// Single sign-on: the staff site signs alice in from the provider's
	// session, without its form.
	p.navigate("staff site", g.url("staff.localhost", "/login?next=%2Fprivate"), http.StatusOK,
		chromedp.Navigate(g.url("staff.localhost", "/private")))
	p.navigate("single sign-on", g.url("staff.localhost", "/private"), http.StatusOK,
		chromedp.Click(chromedp.ID("oidc"), chromedp.NodeVisible))
	p.want("single sign-on", "who", "user=u-alice")
	p.screenshot("mixed-sso-staff")
}

package main_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/sessiond/sessiond/internal/testbrowser"
	"github.com/sessiond/sessiond/internal/testenv"
)

// demoSite is the built binary's demo, started for one test.
type demoSite struct {
	shopHTTP, shopHTTPS, catalogHTTP string
	outletHTTP, outletHTTPS          string
}

func startDemo(t *testing.T) demoSite {
	t.Helper()
	bin := buildSessiond(t)
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	startProc(t, bin, "Ctrl-C stops", "demo", "--data", t.TempDir(),
		"--http", fmt.Sprintf("127.0.0.1:%d", hp), "--https", fmt.Sprintf("127.0.0.1:%d", sp))
	return demoSite{
		shopHTTP:    fmt.Sprintf("http://shop.localhost:%d", hp),
		shopHTTPS:   fmt.Sprintf("https://shop.localhost:%d", sp),
		catalogHTTP: fmt.Sprintf("http://catalog.localhost:%d", hp),
		outletHTTP:  fmt.Sprintf("http://outlet.localhost:%d", hp),
		outletHTTPS: fmt.Sprintf("https://outlet.localhost:%d", sp),
	}
}

// page drives one browser tab through the demo and reads what it shows.
type page struct {
	t    *testing.T
	ctx  context.Context
	b    *testbrowser.Browser
	dir  string // screenshots
	shot int
}

func (p *page) fatalf(format string, args ...any) {
	p.t.Helper()
	p.screenshot("failure")
	if out := p.b.Output(); out != "" {
		p.t.Logf("browser output:\n%s", out)
	}
	p.t.Fatalf(format, args...)
}

// navigate runs a step that navigates and checks where the browser ended
// up (after redirects) and the final status.
func (p *page) navigate(what, wantURL string, wantStatus int, step chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	resp, err := chromedp.RunResponse(p.ctx, step)
	if err != nil {
		p.fatalf("%s: %v", what, err)
	}
	if got := withoutNote(resp.URL); got != wantURL || resp.Status != int64(wantStatus) {
		p.fatalf("%s: landed on %s (status %d), want %s (%d)", what, resp.URL, resp.Status, wantURL, wantStatus)
	}
}

// withoutNote drops the inspector's sessiond_note parameter, which a
// redirect to HTTPS carries to say why (the gateway strips it before the
// backend sees the URL).
func withoutNote(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	if !q.Has("sessiond_note") {
		return raw
	}
	q.Del("sessiond_note")
	u.RawQuery = q.Encode()
	return u.String()
}

func (p *page) click(what, id, wantURL string) {
	p.t.Helper()
	p.navigate(what, wantURL, http.StatusOK, chromedp.Click(chromedp.ID(id), chromedp.NodeVisible))
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.fatalf("%s: %v", what, err)
	}
}

func (p *page) present(id string) bool {
	p.t.Helper()
	ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](fmt.Sprintf("document.getElementById(%q) !== null", id)))
	if err != nil {
		p.fatalf("looking for #%s: %v", id, err)
	}
	return ok
}

func (p *page) text(id string) string {
	p.t.Helper()
	if !p.present(id) {
		p.fatalf("no #%s on the page", id)
	}
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		p.fatalf("reading #%s: %v", id, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

// want checks that #id shows every one of subs.
func (p *page) want(where, id string, subs ...string) {
	p.t.Helper()
	got := p.text(id)
	for _, s := range subs {
		if !strings.Contains(got, s) {
			p.fatalf("%s: #%s shows %q, want it to contain %q", where, id, got, s)
		}
	}
}

// wantNot checks that #id shows none of subs.
func (p *page) wantNot(where, id string, subs ...string) {
	p.t.Helper()
	got := p.text(id)
	for _, s := range subs {
		if strings.Contains(got, s) {
			p.fatalf("%s: #%s shows %q, which must not contain %q", where, id, got, s)
		}
	}
}

// newestEvent is the first entry of the inspector's event list.
func (p *page) newestEvent() (kind string, now bool) {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](`(() => {
		const li = document.querySelector("#i-events li");
		return li ? [li.dataset.event, String(li.classList.contains("now"))] : ["", "false"];
	})()`))
	if err != nil {
		p.fatalf("reading the event list: %v", err)
	}
	return v[0], v[1] == "true"
}

func (p *page) wantEvent(where, kind string) {
	p.t.Helper()
	got, now := p.newestEvent()
	if got != kind || !now {
		p.fatalf("%s: newest session event is %q (this request: %t), want %q on this request; list: %q",
			where, got, now, kind, p.text("i-events"))
	}
}

func (p *page) bodyText() string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string]("document.documentElement.outerHTML"))
	if err != nil {
		p.fatalf("reading the page: %v", err)
	}
	return s
}

func (p *page) screenshot(name string) {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p.shot++
	path := filepath.Join(p.dir, fmt.Sprintf("%02d-%s.png", p.shot, name))
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
	}
}

// TestDemoShopperInBrowser is the demo's whole shopper story in headless
// Chromium against the built binary: browse and fill the cart over HTTP,
// the checkout redirect to HTTPS (step up, with the rule named), sign-in
// that returns to checkout, the step down to HTTP (user and orders
// hidden), the attacker's view replaying the sniffed sid (the cart, not
// the account, a fork), sign-out, and the catalog without sessions. The
// session inspector's text is asserted at each step; screenshots are
// saved (testbrowser.ArtifactDir).
func TestDemoShopperInBrowser(t *testing.T) {
	d := startDemo(t)
	b := testbrowser.Launch(t, testbrowser.Options{HostRules: "MAP *.localhost 127.0.0.1", Timeout: 120 * time.Second})
	p := &page{t: t, ctx: b.Tab, b: b, dir: testbrowser.ArtifactDir(t)}

	// 1. A visitor browses over HTTP: no cookie, no session.
	p.navigate("open the shop", d.shopHTTP+"/", 200, chromedp.Navigate(d.shopHTTP+"/"))
	p.want("home over HTTP", "i-transport", "HTTP", "plain text")
	p.want("home over HTTP", "i-cookies", "none")
	p.want("home over HTTP", "i-events", "None yet")
	p.screenshot("home-http")

	// 2. Add two products over HTTP: the session is created with the cart.
	for i, id := range []string{"1", "3"} {
		p.navigate("open product "+id, d.shopHTTP+"/products/"+id, 200, chromedp.Click(chromedp.CSS(`#products li[data-product="`+id+`"] a`), chromedp.NodeVisible))
		p.click("add product "+id, "add", d.shopHTTP+"/cart")
		p.want("cart over HTTP", "cart-line", "cart: "+[]string{"1", "1,3"}[i])
		p.navigate("back home", d.shopHTTP+"/", 200, chromedp.Navigate(d.shopHTTP+"/"))
	}
	p.navigate("open the cart", d.shopHTTP+"/cart", 200, chromedp.Navigate(d.shopHTTP+"/cart"))
	p.want("cart over HTTP", "i-transport", "HTTP")
	p.want("cart over HTTP", "i-cookies", "sid")
	p.wantNot("cart over HTTP", "i-cookies", "__Host-ssid")
	p.want("cart over HTTP", "i-visible", "cart = 1,3")
	p.want("cart over HTTP", "i-user", "hidden over HTTP")
	p.want("cart over HTTP", "i-hidden", "secure.*")
	p.want("cart over HTTP", "i-events", "Created.")
	ref := p.text("i-ref")
	p.screenshot("cart-http")

	// 3. Checkout: the rule sends the browser to HTTPS, and says which
	//    rule; the first HTTPS request steps up, keeping the cart.
	p.click("go to checkout", "checkout", d.shopHTTPS+"/checkout")
	p.want("checkout after the redirect", "why", "rule", "path /checkout", "HTTPS")
	p.want("checkout over HTTPS", "i-transport", "HTTPS", "encrypted")
	p.want("checkout over HTTPS", "i-visible", "cart = 1,3")
	p.want("checkout over HTTPS", "i-hidden", "nothing")
	p.want("checkout over HTTPS", "i-user", "not signed in")
	p.wantEvent("checkout over HTTPS", "step-up")
	p.want("checkout over HTTPS", "cart-line", "cart: 1,3")
	if got := p.text("i-ref"); got != ref {
		p.fatalf("the session ref changed at step up: %q, then %q; want one record", ref, got)
	}
	p.screenshot("checkout-step-up")

	// 4. Sign in from checkout: back to checkout, signed in.
	p.click("sign in from checkout", "signin", d.shopHTTPS+"/login?next=%2Fcheckout")
	if !p.present("home") {
		p.fatalf("the login page has no link back to the site's home (#home)")
	}
	p.do("fill the login form",
		chromedp.SendKeys(chromedp.ID("username"), "alice", chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("password"), "alice-demo", chromedp.NodeVisible))
	p.screenshot("login")
	p.navigate("submit the login form", d.shopHTTPS+"/checkout", 200, chromedp.Submit(chromedp.ID("login")))
	p.want("checkout after sign-in", "user", "Signed in as alice")
	p.want("checkout after sign-in", "i-user", "alice")
	p.want("checkout after sign-in", "i-cookies", "sid", "__Host-ssid")
	p.wantNot("checkout after sign-in", "i-cookies", "device") // session cookies only
	p.want("checkout after sign-in", "cart-line", "cart: 1,3")
	if kind, _ := p.newestEvent(); kind != "login" {
		p.fatalf("checkout after sign-in: newest event %q, want login; list %q", kind, p.text("i-events"))
	}
	p.screenshot("checkout-signed-in")

	// 5. Back to the shop over HTTP: step down. The cart is there; the
	//    user and the secure partition are hidden, and say so.
	p.click("shop over HTTP", "nav-http", d.shopHTTP+"/")
	p.want("home after step down", "i-transport", "HTTP")
	p.want("home after step down", "i-visible", "cart = 1,3")
	p.want("home after step down", "i-user", "hidden over HTTP")
	p.want("home after step down", "i-hidden", "hides the user")
	p.wantEvent("home after step down", "step-down")
	if strings.Contains(p.bodyText(), "alice") {
		p.fatalf("a page served over plain HTTP names the signed-in user")
	}
	p.screenshot("home-step-down")

	// 6. The attacker's view: the sniffed sid buys the cart over HTTP,
	//    and over HTTPS a fork with a copy of the cart, never the account.
	p.click("attacker's view", "nav-sniffed", d.shopHTTP+"/demo/sniffed")
	p.want("attacker's view", "sniff-seen", "sid")
	p.want("attacker's view", "sniff-http-cart", "1,3")
	p.want("attacker's view", "sniff-http-user", "hidden over HTTP")
	p.want("attacker's view", "sniff-https-result", "A fork")
	p.want("attacker's view", "sniff-https-cart", "1,3")
	p.want("attacker's view", "sniff-https-user", "not the account")
	if strings.Contains(p.bodyText(), "alice") {
		p.fatalf("the attacker's view shows the signed-in user")
	}
	p.screenshot("attacker")

	// 7. The account is still alice's over HTTPS (the rule says why), and
	//    she signs out.
	p.navigate("open the account over HTTP", d.shopHTTPS+"/account", 200, chromedp.Navigate(d.shopHTTP+"/account"))
	p.want("account after the redirect", "why", "path /account")
	p.want("account", "user", "Signed in as alice")
	p.wantEvent("account over HTTPS", "step-up")
	p.click("sign out", "logout", d.shopHTTPS+"/?signed-out")
	p.want("home after sign-out", "why", "signed out")
	p.wantEvent("home after sign-out", "logout")
	p.want("home after sign-out", "i-cookies", "none")
	p.want("home after sign-out", "i-user", "not signed in")
	p.screenshot("signed-out")

	// 8. The outlet is HTTPS-only: plain HTTP is sent to HTTPS, and the
	//    banner says it is the whole site, not one rule.
	p.navigate("open the outlet over HTTP", d.outletHTTPS+"/", 200, chromedp.Navigate(d.outletHTTP+"/"))
	p.want("outlet", "why", "HTTPS-only")
	p.want("outlet", "i-mode", "HTTPS only")
	p.want("outlet", "i-transport", "HTTPS")
	if p.present("nav-http") || p.present("nav-sniffed") {
		p.fatalf("the HTTPS-only outlet links to plain HTTP or the attacker's view")
	}
	p.screenshot("outlet")

	// 9. The catalog has sessions off, and says so: no cart, no sign-in.
	p.navigate("open the catalog", d.catalogHTTP+"/", 200, chromedp.Navigate(d.catalogHTTP+"/"))
	p.want("catalog", "sessions-off", "Sessions are off")
	p.want("catalog", "i-sessions", "Sessions are off")
	for _, id := range []string{"nav-checkout", "signin", "nav-sniffed"} {
		if p.present(id) {
			p.fatalf("the catalog shows #%s, but it has no sessions", id)
		}
	}
	p.screenshot("catalog")
	p.navigate("catalog product", d.catalogHTTP+"/products/2", 200, chromedp.Click(chromedp.CSS(`#products li[data-product="2"] a`), chromedp.NodeVisible))
	if p.present("add") {
		p.fatalf("the catalog's product page has an add-to-cart button")
	}
	if strings.Contains(strings.ToLower(p.bodyText()), "sign in") {
		p.fatalf("the catalog's product page offers to sign in")
	}
}

// login signs in on the gateway's login page of the shop, starting from
// path (which needs a signed-in user or links to the login page).
func (p *page) login(d demoSite, next, user, pass string) {
	p.t.Helper()
	login := d.shopHTTPS + "/login?next=" + url.QueryEscape(next)
	p.navigate("open the login page", login, 200, chromedp.Navigate(login))
	p.do("fill the login form",
		chromedp.SendKeys(chromedp.ID("username"), user, chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("password"), pass, chromedp.NodeVisible))
	p.navigate("submit the login form", d.shopHTTPS+next, 200, chromedp.Submit(chromedp.ID("login")))
}

// rows are the sessions page's rows: ref -> the row's text.
func (p *page) rows() map[string]string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries(
		[...document.querySelectorAll("#sessions tr[data-ref]")].map(tr => [tr.dataset.ref, tr.innerText.replace(/\s+/g, " ")]))`))
	if err != nil {
		p.fatalf("reading the sessions table: %v", err)
	}
	return v
}

// TestDemoSessionsPageInBrowser: alice signs in from two browsers (two
// browser contexts, separate cookies). The sessions page lists both, with
// the browser of the latest sign-in, times with their zone and the area
// from the demo's GeoIP database; "sign out everywhere else" shows only
// when there is somewhere else. Revoking the other session removes it
// from the list, and the other browser is signed out.
func TestDemoSessionsPageInBrowser(t *testing.T) {
	d := startDemo(t)
	b := testbrowser.Launch(t, testbrowser.Options{HostRules: "MAP *.localhost 127.0.0.1", Timeout: 120 * time.Second})
	dir := testbrowser.ArtifactDir(t)
	first := &page{t: t, ctx: b.Tab, b: b, dir: dir}
	other := &page{t: t, ctx: b.NewIncognito(t), b: b, dir: dir}
	const sessions = "/.sessiond/sessions"

	// Alone: no "everywhere else".
	first.login(d, sessions, "alice", "alice-demo")
	if got := first.rows(); len(got) != 1 {
		first.fatalf("sessions page with one sign-in lists %d rows: %v", len(got), got)
	}
	if first.present("revoke-others") || !first.present("alone") || !first.present("home") {
		first.fatalf("one session: want #alone and #home, no #revoke-others")
	}

	// The other browser opens the login page (its session starts with the
	// browser's own User-Agent), then signs in as "Firefox 128": the list
	// shows the browser of the sign-in.
	login := d.shopHTTPS + "/login?next=" + url.QueryEscape("/account")
	other.navigate("other browser: login page", login, 200, chromedp.Navigate(login))
	if _, err := chromedp.Call(other.ctx, emulation.SetUserAgentOverride,
		emulation.SetUserAgentOverrideParams{UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"}); err != nil {
		other.fatalf("user agent override: %v", err)
	}
	other.do("other browser: fill the form",
		chromedp.SendKeys(chromedp.ID("username"), "alice", chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("password"), "alice-demo", chromedp.NodeVisible))
	other.navigate("other browser: sign in", d.shopHTTPS+"/account", 200, chromedp.Submit(chromedp.ID("login")))
	other.want("other browser, signed in", "user", "Signed in as alice")

	first.navigate("reload the sessions page", d.shopHTTPS+sessions, 200, chromedp.Reload())
	rows := first.rows()
	if len(rows) != 2 || !first.present("revoke-others") || first.present("alone") {
		first.fatalf("two sessions: rows %v, want 2 and a #revoke-others button", rows)
	}
	zone, _ := time.Now().Zone()
	otherRef := ""
	for ref, text := range rows {
		for _, want := range []string{"127.0.0.1", "this machine", zone} {
			if !strings.Contains(text, want) {
				first.fatalf("row %q lacks %q", text, want)
			}
		}
		if strings.Contains(text, "this session") {
			continue
		}
		otherRef = ref
		if !strings.Contains(text, "Firefox 128 on Windows") {
			first.fatalf("the other session's row %q does not show the browser of its sign-in (Firefox 128 on Windows)", text)
		}
	}
	if otherRef == "" {
		first.fatalf("no row other than this session: %v", rows)
	}
	first.screenshot("sessions-two")

	// Revoke the other one.
	first.navigate("revoke the other session", d.shopHTTPS+sessions, 200,
		chromedp.Click(chromedp.CSS(`tr[data-ref="`+otherRef+`"] button`), chromedp.NodeVisible))
	if rows := first.rows(); len(rows) != 1 || rows[otherRef] != "" {
		first.fatalf("after revoking: rows %v, want only this session", rows)
	}
	if first.present("revoke-others") {
		first.fatalf("after revoking: still offers to sign out everywhere else")
	}
	first.screenshot("sessions-revoked")

	// The other browser is signed out.
	other.navigate("other browser: account", d.shopHTTPS+"/account", 200, chromedp.Reload())
	other.want("other browser after the revoke", "user", "not signed in")
}

// TestDemoOnAPhone: the shop is readable on a phone-sized screen: nothing
// wider than the viewport, the inspector below the page.
func TestDemoOnAPhone(t *testing.T) {
	d := startDemo(t)
	b := testbrowser.Launch(t, testbrowser.Options{HostRules: "MAP *.localhost 127.0.0.1"})
	p := &page{t: t, ctx: b.Tab, b: b, dir: testbrowser.ArtifactDir(t)}
	p.do("emulate a phone", chromedp.Emulate(device.IPhone13))
	for _, u := range []string{d.shopHTTP + "/", d.shopHTTP + "/products/1", d.shopHTTPS + "/login?next=%2F"} {
		p.navigate("open "+u, u, 200, chromedp.Navigate(u))
		wide, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil {
			p.fatalf("measuring %s: %v", u, err)
		}
		if wide {
			p.fatalf("%s is wider than the phone's screen", u)
		}
		p.screenshot("phone")
	}
}

package browsertest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"

	"github.com/sessiond/sessiond/internal/testbrowser"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

// shopHost is what the browser types. It must not be "localhost" (or an IP):
// Chromium treats localhost as a secure context even over plain HTTP, which
// would hide exactly the Secure-cookie behaviour under test. The
// --host-resolver-rules flag maps it to the loopback listeners.
const shopHost = "shop.test"

const (
	secureCookie   = "__Host-ssid" // mixed-mode default secure cookie
	insecureCookie = "sid"         // mixed-mode default insecure cookie
	testUser       = "alice"
	testCard       = "4111111111111111"
)

// TestMixedHTTPSInBrowser checks mixed HTTP/HTTPS sessions in a real
// browser: a cart filled over HTTP survives the step up
// to HTTPS, a login over HTTPS stays invisible over HTTP after the step
// down, the insecure ID is regenerated at each switch, and the secure
// cookie never travels over plain HTTP — checked in the browser's own
// cookie store and in the requests the servers received.
func TestMixedHTTPSInBrowser(t *testing.T) {
	start := time.Now()

	// --- server side ------------------------------------------------------

	plain := httptest.NewUnstartedServer(nil)
	tlsSrv := httptest.NewUnstartedServer(nil)
	httpOrigin := "http://" + net.JoinHostPort(shopHost, port(t, plain.Listener))
	httpsOrigin := "https://" + net.JoinHostPort(shopHost, port(t, tlsSrv.Listener))

	mem := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	store := &countingStore{Store: mem}
	audit := &testkit.Auditor{}
	m, err := session.New(session.Config{Store: store, Mode: session.Mixed, Auditor: audit})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := secure.New(secure.Config{
		HTTPSOrigin: httpsOrigin,
		HTTPOrigin:  httpOrigin,
		Rules: []secure.Rule{
			{Path: "/checkout", To: secure.HTTPS},
			{Path: "/login", To: secure.HTTPS, Credentials: true},
		},
		// No HSTS: Chromium would then upgrade http://shop.test:PORT too
		// (HSTS ignores ports), and the step down could never happen.
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	handler := rec.wrap(m.Handler(rules.Handler(shopRoutes(httpOrigin))))
	plain.Config.Handler = handler
	tlsSrv.Config.Handler = handler
	plain.Start()
	tlsSrv.StartTLS() // httptest's certificate: the browser runs with --ignore-certificate-errors
	t.Cleanup(plain.Close)
	t.Cleanup(tlsSrv.Close)

	// --- browser ----------------------------------------------------------

	browser := testbrowser.Launch(t, testbrowser.Options{HostRules: "MAP " + shopHost + " 127.0.0.1", Timeout: 60 * time.Second})
	bctx := browser.Tab

	fatalf := func(format string, args ...any) {
		t.Helper()
		t.Logf("requests the servers saw:\n%s", rec.dump())
		if out := browser.Output(); out != "" {
			t.Logf("browser output (tail, D-Bus noise left out):\n%s", out)
		}
		t.Fatalf(format, args...)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			fatalf("%s: %v", what, err)
		}
	}
	// navigate runs a step that causes a navigation (a typed URL, a link, a
	// form submit), waits for the page to load and checks where it ended up
	// (after redirects) and the status of the final document.
	navigate := func(what, wantURL string, step chromedp.Action[chromedp.Void]) {
		t.Helper()
		resp, err := chromedp.RunResponse(bctx, step)
		if err != nil {
			fatalf("%s: %v", what, err)
		}
		if resp.URL != wantURL || resp.Status != http.StatusOK {
			fatalf("%s: landed on %s (status %d), want %s (200)", what, resp.URL, resp.Status, wantURL)
		}
	}
	text := func(id string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID(id), chromedp.NodeVisible))
		if err != nil {
			fatalf("reading #%s: %v", id, err)
		}
		return strings.TrimSpace(s)
	}
	present := func(id string) bool {
		t.Helper()
		ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](fmt.Sprintf("document.getElementById(%q) !== null", id)))
		if err != nil {
			fatalf("looking for #%s: %v", id, err)
		}
		return ok
	}
	jar := func(when string) browserCookies {
		t.Helper()
		// Storage.getCookies on the browser: every cookie the profile holds,
		// whatever URL it applies to.
		res, err := chromedp.CallBrowser(bctx, storage.GetCookies, storage.GetCookiesParams{})
		if err != nil {
			fatalf("reading the browser's cookies (%s): %v", when, err)
		}
		var names []string
		for _, c := range res.Cookies {
			names = append(names, fmt.Sprintf("%s(secure=%t httpOnly=%t sameSite=%s domain=%s path=%s source=%s:%d)",
				c.Name, c.Secure, c.HTTPOnly, c.SameSite, c.Domain, c.Path, c.SourceScheme, c.SourcePort))
		}
		t.Logf("cookie store %s: %s", when, strings.Join(names, ", "))
		return browserCookies{t: t, when: when, all: res.Cookies, fail: fatalf}
	}
	wantCart := func(where, want string) {
		t.Helper()
		if got := text("cart"); got != want {
			fatalf("%s: cart shows %q, want %q", where, got, want)
		}
	}

	// 1. Browse and fill the cart over plain HTTP (real form submits: POST
	//    /cart/add, 303 to /cart).
	for i, product := range []string{"1", "2"} {
		navigate("open product "+product, httpOrigin+"/products/"+product,
			chromedp.Navigate(httpOrigin+"/products/"+product))
		do("product page", chromedp.WaitVisible(chromedp.ID("page-product")))
		navigate("add product "+product+" to the cart", httpOrigin+"/cart",
			chromedp.Click(chromedp.ID("add"), chromedp.NodeVisible))
		do("cart page", chromedp.WaitVisible(chromedp.ID("page-cart")))
		wantCart("cart over HTTP", strings.Join([]string{"1", "2"}[:i+1], ","))
	}
	if !present("anonymous") || present("signed-in") {
		fatalf("cart over HTTP before login: expected an anonymous visitor")
	}
	c0 := jar("after filling the cart over HTTP")
	sid0 := c0.one(insecureCookie)
	c0.none(secureCookie)
	if sid0.Secure || !sid0.HTTPOnly {
		fatalf("%s cookie: Secure=%t HttpOnly=%t, want Secure=false HttpOnly=true", insecureCookie, sid0.Secure, sid0.HTTPOnly)
	}

	// 2. Step up: the plain-HTTP checkout link is redirected to HTTPS by
	//    the secure rules; the first HTTPS request issues the secure ID and
	//    regenerates the insecure one, keeping the cart.
	navigate("follow the checkout link", httpsOrigin+"/checkout",
		chromedp.Click(chromedp.ID("checkout"), chromedp.NodeVisible))
	do("checkout page", chromedp.WaitVisible(chromedp.ID("page-checkout")))
	wantCart("checkout over HTTPS (step up)", "1,2")
	if got := text("scheme"); got != "https" {
		fatalf("checkout page served over %q", got)
	}
	if !present("anonymous") {
		fatalf("checkout before login: expected an anonymous visitor")
	}
	c1 := jar("after the step up")
	sid1, ssid1 := c1.one(insecureCookie), c1.one(secureCookie)
	if sid1.Value == sid0.Value {
		fatalf("step up: the insecure cookie %s kept its value; want a regenerated ID", insecureCookie)
	}
	checkSecureCookie(fatalf, ssid1)
	if sid1.Secure || !sid1.HTTPOnly {
		fatalf("%s cookie after step up: Secure=%t HttpOnly=%t, want Secure=false HttpOnly=true", insecureCookie, sid1.Secure, sid1.HTTPOnly)
	}

	// 3. Log in over HTTPS (POST form; Session.Login plus a secure.* key).
	do("type the user name", chromedp.SendKeys(chromedp.ID("username"), testUser, chromedp.NodeVisible))
	navigate("submit the login form", httpsOrigin+"/checkout",
		chromedp.Click(chromedp.ID("login"), chromedp.NodeVisible))
	do("signed-in checkout", chromedp.WaitVisible(chromedp.ID("signed-in")))
	if got := text("signed-in"); !strings.Contains(got, testUser) {
		fatalf("checkout after login shows %q, want the user %s", got, testUser)
	}
	if got := text("card"); !strings.Contains(got, testCard[len(testCard)-4:]) {
		fatalf("checkout after login shows card %q, want the secure.card key", got)
	}
	wantCart("checkout after login", "1,2")
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		fatalf("screenshot: %v", err)
	}
	shotPath := filepath.Join(t.TempDir(), "checkout.png")
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the signed-in checkout page: %s (%d bytes)", shotPath, len(shot))
	c2 := jar("after the login over HTTPS")
	sid2, ssid2 := c2.one(insecureCookie), c2.one(secureCookie)
	checkSecureCookie(fatalf, ssid2)
	if sid2.Value == sid1.Value {
		fatalf("login: the insecure cookie %s kept its value; want a regenerated ID", insecureCookie)
	}

	// 4. Step down: back to the cart over plain HTTP. The cart is there,
	//    the user and the secure.* key are not, and the insecure ID is
	//    regenerated.
	navigate("continue shopping over HTTP", httpOrigin+"/cart",
		chromedp.Click(chromedp.ID("continue"), chromedp.NodeVisible))
	do("cart page after the step down", chromedp.WaitVisible(chromedp.ID("page-cart")))
	wantCart("cart over HTTP (step down)", "1,2")
	if got := text("scheme"); got != "http" {
		fatalf("cart page served over %q, want http", got)
	}
	if present("signed-in") || present("card") || !present("anonymous") {
		fatalf("cart over HTTP after login shows the user or the secure partition")
	}
	c3 := jar("after the step down")
	sid3 := c3.one(insecureCookie)
	if sid3.Value == sid2.Value {
		fatalf("step down: the insecure cookie %s kept its value; want a regenerated ID", insecureCookie)
	}
	if ssid3 := c3.one(secureCookie); ssid3.Value != ssid2.Value {
		fatalf("step down changed the secure cookie; it must not be touched over HTTP")
	}

	// 5. Up again: the same session, still signed in, the insecure ID
	//    regenerated once more, and still one record.
	navigate("checkout again", httpsOrigin+"/checkout",
		chromedp.Click(chromedp.ID("checkout"), chromedp.NodeVisible))
	do("signed-in checkout again", chromedp.WaitVisible(chromedp.ID("signed-in")))
	wantCart("checkout after the second step up", "1,2")
	c4 := jar("after the second step up")
	if sid4 := c4.one(insecureCookie); sid4.Value == sid3.Value {
		fatalf("second step up: the insecure cookie %s kept its value", insecureCookie)
	}
	checkSecureCookie(fatalf, c4.one(secureCookie))

	// --- what crossed the wire ------------------------------------------

	log := rec.snapshot()
	var httpWithSid, httpsWithSsid, httpsSetSsid, checkoutRedirects int
	for _, x := range log {
		if !x.secure {
			if strings.Contains(x.cookie, secureCookie) {
				fatalf("plain-HTTP request %s %s carried the secure cookie: Cookie: %s", x.method, x.uri, x.cookie)
			}
			for _, sc := range x.setCookie {
				if strings.Contains(sc, secureCookie) {
					fatalf("plain-HTTP response to %s %s set the secure cookie: Set-Cookie: %s", x.method, x.uri, sc)
				}
			}
			if hasCookie(x.cookie, insecureCookie) {
				httpWithSid++
			}
			if x.method == http.MethodGet && x.uri == "/checkout" && x.status == http.StatusFound &&
				x.location == httpsOrigin+"/checkout" {
				checkoutRedirects++
			}
			continue
		}
		if hasCookie(x.cookie, secureCookie) {
			httpsWithSsid++
		}
		for _, sc := range x.setCookie {
			if strings.HasPrefix(sc, secureCookie+"=") {
				httpsSetSsid++
				if !strings.Contains(sc, "; Secure") || !strings.Contains(sc, "; HttpOnly") {
					fatalf("HTTPS response to %s %s: Set-Cookie %q lacks Secure or HttpOnly", x.method, x.uri, sc)
				}
			}
		}
	}
	// The checks above must not pass vacuously.
	if httpWithSid == 0 || httpsWithSsid == 0 || httpsSetSsid == 0 {
		fatalf("too little traffic to judge: %d HTTP requests with %s, %d HTTPS requests with %s, %d HTTPS responses setting it",
			httpWithSid, insecureCookie, httpsWithSsid, secureCookie, httpsSetSsid)
	}
	if checkoutRedirects != 2 {
		fatalf("saw %d redirects of http /checkout to %s/checkout, want 2 (secure rules)", checkoutRedirects, httpsOrigin)
	}
	if n := store.creates.Load(); n != 1 {
		fatalf("the store created %d records, want 1: switching transports must not create records", n)
	}
	if recs, err := store.ListUser(context.Background(), testUser); err != nil || len(recs) != 1 {
		fatalf("ListUser(%s) = %d records, %v; want 1", testUser, len(recs), err)
	}
	if evs := audit.Types(); slices.Contains(evs, "session.fork") {
		fatalf("the session was forked (audit events %v): the browser presented the insecure ID without the secure one over HTTPS", evs)
	}
	t.Logf("%d requests (%d over HTTP with %s, %d over HTTPS with %s); %s %s → %s → %s → %s → %s; took %v",
		len(log), httpWithSid, insecureCookie, httpsWithSsid, secureCookie, insecureCookie,
		short(sid0.Value), short(sid1.Value), short(sid2.Value), short(sid3.Value), short(c4.one(insecureCookie).Value),
		time.Since(start).Round(time.Millisecond))
}

// checkSecureCookie checks the secure cookie as the browser stored it.
func checkSecureCookie(fatalf func(string, ...any), c *network.Cookie) {
	if !c.Secure || !c.HTTPOnly {
		fatalf("%s in the browser: Secure=%t HttpOnly=%t, want both", c.Name, c.Secure, c.HTTPOnly)
	}
	// __Host-: host-only (no leading dot), Path=/.
	if c.Domain != shopHost || c.Path != "/" {
		fatalf("%s in the browser: domain %q path %q, want host-only %q and /", c.Name, c.Domain, c.Path, shopHost)
	}
	if c.SameSite != network.CookieSameSiteLax {
		fatalf("%s in the browser: SameSite=%q, want Lax", c.Name, c.SameSite)
	}
}

// browserCookies is one read of the browser's cookie store.
type browserCookies struct {
	t    *testing.T
	when string
	all  []*network.Cookie
	fail func(string, ...any)
}

func (bc browserCookies) named(name string) []*network.Cookie {
	var out []*network.Cookie
	for _, c := range bc.all {
		if c.Name == name && c.Domain == shopHost {
			out = append(out, c)
		}
	}
	return out
}

// one returns the only cookie called name; two copies (for example one per
// scheme or port) would be a finding of its own.
func (bc browserCookies) one(name string) *network.Cookie {
	bc.t.Helper()
	cs := bc.named(name)
	if len(cs) != 1 {
		bc.fail("%s: the browser holds %d cookies called %s, want 1", bc.when, len(cs), name)
	}
	return cs[0]
}

func (bc browserCookies) none(name string) {
	bc.t.Helper()
	if cs := bc.named(name); len(cs) != 0 {
		bc.fail("%s: the browser already holds %s", bc.when, name)
	}
}

// --- the shop -------------------------------------------------------------

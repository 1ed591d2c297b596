package pages_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/sessiond/sessiond/gateway/pages"
	"github.com/sessiond/sessiond/internal/testbrowser"
)

// operatorTemplates is a templates directory as an operator might write
// it: their own markup and colours, the built-in parts where handy.
var operatorTemplates = map[string]string{
	pages.Login: `<!doctype html><html lang="en"><head>{{template "head"}}<title>ACME sign-in</title>
<style>body{background:#0b3d2e}.card{border-top:6px solid #f2b134}h1{color:#0b3d2e}</style></head>
<body><main><div class="card"><h1 id="acme">ACME staff sign-in</h1>{{with .Error}}<p class="err" role="alert">{{.}}</p>{{end}}
{{range .Providers}}<p><a class="button block" href="{{.URL}}">Continue with {{.Name}}</a></p>{{end}}
{{if .Password}}<form method="post" action="{{.Action}}" id="login">{{template "csrf" .CSRF}}<input type="hidden" name="next" value="{{.Next}}">
<label for="username">Staff ID</label><input id="username" name="username" value="{{.User}}" required>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<p class="submit"><button class="block">Sign in</button></p></form>{{end}}</div></main></body></html>`,
	pages.Refused: `<!doctype html><html lang="en"><head>{{template "head"}}<title>Not allowed</title></head>
<body><main><div class="card"><h1 id="acme">Not allowed at ACME</h1><p class="err">{{.Reason}}</p>{{if .RetryURL}}<a href="{{.RetryURL}}">Try another account</a>{{end}}</div></main></body></html>`,
	pages.Error: `<!doctype html><html lang="en"><head>{{template "head"}}<title>{{.Title}}</title></head>
<body><main><div class="card"><h1 id="acme">ACME: {{.Title}}</h1><p id="error">{{.Message}}</p>{{template "home" .Site}}</div></main></body></html>`,
	pages.Sessions: `<!doctype html><html lang="en"><head>{{template "head"}}<title>Devices</title></head>
<body><main class="wide"><div class="card"><h1 id="acme">Your ACME devices</h1><ul id="sessions">
{{range .Sessions}}<li data-ref="{{.Ref}}">{{.Browser}}, {{.IP}}, since {{when .Created}}{{if .Current}} (this one){{else}}
<form method="post" action="/.sessiond/sessions/revoke">{{template "csrf" $.CSRF}}<input type="hidden" name="ref" value="{{.Ref}}"><button>Sign out</button></form>{{end}}</li>{{end}}</ul></div></main></body></html>`,
}

// writeOperatorTemplates writes operatorTemplates into a new directory.
func writeOperatorTemplates(t *testing.T) string {
	dir := t.TempDir()
	for name, text := range operatorTemplates {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// examplePages are the pages the browser test shows, with long and
// awkward data (a long site name, a long user agent and address) as a
// real deployment has.
func examplePages() map[string]struct {
	code int
	page pages.Page
} {
	now := time.Now()
	long := "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro Build/AP2A.240805.005) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.135 Mobile Safari/537.36"
	csrf := pages.CSRF{Field: "csrf_token", Token: "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG8"}
	idp := []pages.Provider{{ID: "corp", Name: "Corporate Single Sign-On", URL: "/.sessiond/oidc/start?next=%2F"}}
	return map[string]struct {
		code int
		page pages.Page
	}{
		"login-password": {401, pages.LoginPage{Site: "shop.example.com", Action: "/login", CSRF: csrf, Next: "/account",
			User: "alice", Error: "Wrong user name or password.", Why: "This page needs you signed in.", Password: true, Remember: true}},
		"login-both": {200, pages.LoginPage{Site: "shop.example.com", Action: "/login", CSRF: csrf, Next: "/", Password: true, Providers: idp}},
		"login-sso":  {200, pages.LoginPage{Site: "shop.example.com", Next: "/", Providers: idp}},
		"refused": {403, pages.RefusedPage{Site: "shop.example.com", User: "eve.very-long-name@contractors.partner-company.example.org",
			Provider: "Corporate Single Sign-On", Reason: "Your account is not in a group allowed on this site.", RetryURL: "/login"}},
		"error-503": {503, pages.ErrorPage{Site: "shop.example.com", Message: "The sign-in provider is not answering. Please try again shortly.",
			LinkURL: "/login", LinkText: "Try again"}},
		"error-404": {404, pages.ErrorPage{Site: "shop.example.com", Message: "No such session: it has ended already."}},
		"sessions": {200, pages.SessionsPage{Site: "shop.example.com", User: "alice", Zone: "CET", CSRF: csrf, Reauth: true,
			Error: "Confirm your password to sign out other sessions.", Sessions: []pages.SessionRow{
				{Ref: "ref-current", Current: true, Created: now, LastSeen: now, IP: "192.0.2.10", Area: "Berlin, DE", UserAgent: long, Browser: "Chrome 131 on Android"},
				{Ref: "ref-other", Created: now.Add(-50 * time.Hour), LastSeen: now.Add(-time.Hour), IP: "2001:db8:85a3:1234:5678:8a2e:370:7334",
					UserAgent: "curl/8.5.0", Browser: "curl 8"},
			}}},
	}
}

// TestPagesInBrowser shows every page, built-in and an operator's
// templates, in headless Chromium on a phone-sized screen: nothing
// wider than the screen, every field labelled, text contrast at least
// WCAG AA (4.5:1) in light and dark mode, and a screenshot of each in the
// test artifacts.
func TestPagesInBrowser(t *testing.T) {
	custom, err := pages.Load(pages.OS, writeOperatorTemplates(t))
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]*pages.Set{"builtin": pages.Default(), "templated": custom}
	examples := examplePages()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		ex, ok := examples[name]
		if !ok || sets[set] == nil {
			http.NotFound(w, r)
			return
		}
		if err := sets[set].Render(w, ex.code, ex.page); err != nil {
			t.Errorf("%s/%s: %v", set, name, err)
		}
	}))
	defer srv.Close()

	b := testbrowser.Launch(t, testbrowser.Options{})
	dir := testbrowser.ArtifactDir(t)
	if err := chromedp.Do(b.Tab, testbrowser.EmulatePhone()); err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []string{"light", "dark"} {
		if _, err := chromedp.Call(b.Tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
			t.Fatal(err)
		}
		for _, set := range []string{"builtin", "templated"} {
			for name, ex := range examples {
				t.Run(scheme+"/"+set+"/"+name, func(t *testing.T) {
					resp, err := chromedp.RunResponse(b.Tab, chromedp.Navigate(srv.URL+"/"+set+"/"+name))
					if err != nil || resp.Status != int64(ex.code) {
						t.Fatalf("load: %v (status %v)", err, resp)
					}
					marker := "#home"
					if set == "templated" {
						marker = "#acme"
					}
					if found, err := chromedp.Run(b.Tab, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%q) !== null", marker))); err != nil || !found {
						t.Errorf("the page has no %s (%v)", marker, err)
					}
					if over, err := testbrowser.Overflow(b.Tab); err != nil || over != "" {
						t.Errorf("wider than a %dpx phone: %s %v", testbrowser.PhoneWidth, over, err)
					}
					if set == "builtin" {
						checkAccessible(t, b.Tab)
					}
					if err := testbrowser.Screenshot(b.Tab, dir, scheme+"-"+set+"-"+name); err != nil {
						t.Error(err)
					}
				})
			}
		}
	}
}

// checkAccessible: every field a person fills in or presses has a
// name a screen reader reads, and all visible text meets WCAG AA
// contrast against what is behind it.
func checkAccessible(t *testing.T, ctx context.Context) {
	t.Helper()
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		for (const el of document.querySelectorAll("input:not([type=hidden]), button, a")) {
			const named = el.getAttribute("aria-label") || (el.id && document.querySelector("label[for='" + el.id + "']")) ||
				el.closest("label") || (el.tagName !== "INPUT" && el.textContent.trim());
			if (!named) out.push("unnamed " + el.outerHTML.slice(0, 80));
		}
		const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
		const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
			.reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
		const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length < 4 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
		const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let n; (n = walker.nextNode());) {
			const el = n.parentElement;
			if (!n.textContent.trim() || !el.getClientRects().length) continue;
			const fg = rgb(getComputedStyle(el).color).slice(0, 3);
			const [a, b] = [lum(fg), lum(bg(el))].sort((x, y) => y - x);
			const ratio = (a + 0.05) / (b + 0.05);
			if (ratio < 4.5) out.push("contrast " + ratio.toFixed(2) + ":1 for " + JSON.stringify(n.textContent.trim().slice(0, 40)));
		}
		return out;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

package gateway

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/pages"
	"github.com/sessiond/sessiond/session"
)

// siteTemplates are an operator's replacements of the gateway's pages.
var siteTemplates = map[string]string{
	pages.Login: `<!doctype html><html lang="en"><head>{{template "head"}}<title>ACME sign-in</title></head>
<body><main><div class="card"><h1 id="acme">ACME sign-in</h1>{{with .Error}}<p class="err" role="alert">{{.}}</p>{{end}}
<form method="post" action="{{.Action}}" id="login">{{template "csrf" .CSRF}}<input type="hidden" name="next" value="{{.Next}}">
<label for="username">Staff ID</label><input id="username" name="username" value="{{.User}}" required>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<p class="submit"><button class="block">Sign in</button></p></form>{{template "home" .Site}}</div></main></body></html>`,
	pages.Error: `<!doctype html><html lang="en"><head>{{template "head"}}<title>{{.Title}}</title></head>
<body><main><div class="card"><h1 id="acme">ACME: {{.Title}}</h1><p id="error">{{.Message}}</p>{{template "home" .Site}}</div></main></body></html>`,
	pages.Sessions: `<!doctype html><html lang="en"><head>{{template "head"}}<title>Devices</title></head>
<body><main class="wide"><div class="card"><h1 id="acme">Devices of {{.User}}</h1><ul id="sessions">
{{range .Sessions}}<li data-ref="{{.Ref}}">{{.Browser}}{{if .Current}} (this one){{else}}
<form method="post" action="/.sessiond/sessions/revoke">{{template "csrf" $.CSRF}}<input type="hidden" name="ref" value="{{.Ref}}"><button>Sign out</button></form>{{end}}</li>{{end}}</ul>
{{template "home" .Site}}</div></main></body></html>`,
}

// templatesDir writes files into a new directory.
func templatesDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSitePages: with the built-in pages and with an operator's
// templates, the sessions page, a refused action, a failed CSRF check
// and a backend that is down all answer with the site's page (its
// template, or the built-in one), escaped, with the page headers; a
// hostile User-Agent shows on the sessions page as text.
func TestSitePages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dir    func(t *testing.T) string
		marker string
	}{
		{"builtin", func(*testing.T) string { return "" }, `<h1>`},
		{"templated", func(t *testing.T) string { return templatesDir(t, siteTemplates) }, `<h1 id="acme">`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			g := startGateway(t, func(sc *config.Site) {
				sc.Pages.TemplatesDir = dir
				sc.Upstream = "http://127.0.0.1:1" // nothing listens: every proxied request fails
			})
			c := g.client()
			const hostileUA = `<script>alert(1)</script> "><img src=x onerror=alert(2)>`
			ua := http.Header{"User-Agent": {hostileUA}}
			_, page := g.do(c, "GET", g.httpsURL+"/login", nil, ua)
			form := url.Values{"csrf_token": {between(page, `name="csrf_token" value="`, `"`)}, "username": {"alice"}, "password": {"alice-pw"}}
			if resp, _ := g.do(c, "POST", g.httpsURL+"/login", form, ua); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login = %d", resp.StatusCode)
			}
			doLogin(g, g.client(), "alice", "alice-pw", "/") // a second session: the page offers to revoke it
			resp, page := g.do(c, "GET", g.httpsURL+sessionsPage, nil, nil)
			refs := strings.Count(page, `data-ref="`)
			tok := between(page, `name="csrf_token" value="`, `"`)
			if resp.StatusCode != 200 || !strings.Contains(page, tc.marker) || refs != 2 || tok == "" {
				t.Fatalf("sessions page: %d, %d sessions, token %q:\n%s", resp.StatusCode, refs, tok, page)
			}
			if strings.Contains(page, "<script>") || strings.Contains(page, "<img") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("the hostile User-Agent is not shown as text:\n%s", page)
			}
			for _, step := range []struct {
				name        string
				method, url string
				form        url.Values
				code        int
				want        string
			}{
				{"revoke a session that has ended", "POST", sessionsPage + "/revoke", url.Values{"csrf_token": {tok}, "ref": {"gone"}}, http.StatusNotFound, "No such session: it has ended already."},
				{"forged form", "POST", sessionsPage + "/revoke", url.Values{"csrf_token": {"forged"}, "ref": {"x"}}, http.StatusForbidden, "has expired or does not belong to your current session"},
				{"backend down", "GET", "/account", nil, http.StatusBadGateway, "The site&#39;s backend is not answering."},
			} {
				resp, body := g.do(c, step.method, g.httpsURL+step.url, step.form, nil)
				if resp.StatusCode != step.code || !strings.Contains(body, tc.marker) || !strings.Contains(body, step.want) ||
					!strings.Contains(body, `<a href="/" id="home">`) {
					t.Errorf("%s: %d, want %d with %q and %q:\n%s", step.name, resp.StatusCode, step.code, tc.marker, step.want, body)
				}
				// A signed-in proxied answer's no-store becomes "private, no-store".
				for k, v := range map[string]string{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
					"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Content-Security-Policy": pages.CSP} {
					if got := resp.Header.Get(k); got != v && !(k == "Cache-Control" && got == "private, no-store") {
						t.Errorf("%s: %s is %q, want %q", step.name, k, got, v)
					}
				}
			}
		})
	}
}

// TestSitePagesOwnTemplates: each site renders with its own
// templates_dir, or the top-level one when it has none.
func TestSitePagesOwnTemplates(t *testing.T) {
	top := templatesDir(t, map[string]string{pages.Error: `<!doctype html><title>top</title><p id="top">{{.Message}}</p><a href="/" id="home">home</a>`})
	own := templatesDir(t, map[string]string{pages.Error: `<!doctype html><title>own</title><p id="own">{{.Message}}</p><a href="/" id="home">home</a>`})
	a, b := testSite(nil, "a.test"), testSite(nil, "b.test")
	a.Upstream, b.Upstream = "http://127.0.0.1:1", "http://127.0.0.1:1"
	b.Pages.TemplatesDir = own
	cfg := testConfig(t, "8080", "8443", a, b)
	cfg.Pages.TemplatesDir = top // a takes it on Validate; b keeps its own
	if _, err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rt := memRuntime(t)
	rt.Auditor = &session.SlogAuditor{Logger: slog.New(slog.DiscardHandler)}
	g, err := New(cfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{"a.test": `<p id="top">`, "b.test": `<p id="own">`} {
		req := httptest.NewRequest("GET", "https://"+host+"/x", nil)
		req.TLS = &tls.ConnectionState{}
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: %d, want 502 with %s:\n%s", host, rec.Code, want, rec.Body.String())
		}
	}
}

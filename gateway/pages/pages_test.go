package pages

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>`

// render renders p with s and returns the response.
func render(t *testing.T, s *Set, code int, p Page) (*httptest.ResponseRecorder, string) {
	t.Helper()
	w := httptest.NewRecorder()
	if err := s.Render(w, code, p); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return w, w.Body.String()
}

// TestBuiltinPages: every page renders with its parts, the headers every
// gateway page gets, and hostile data in every field comes out as text.
func TestBuiltinPages(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		code int
		page Page
		want []string
	}{
		{"login", 200, LoginPage{Site: hostile, Action: "/login", CSRF: CSRF{Field: "csrf_token", Token: hostile}, Next: hostile,
			User: hostile, Error: hostile, Why: hostile, Password: true, Remember: true,
			Providers: []Provider{{ID: hostile, Name: hostile, URL: "/.sessiond/oidc/start?next=" + hostile}}},
			[]string{`<form method="post" action="/login" id="login">`, `name="csrf_token" value="&#34;&gt;&lt;script&gt;`, `id="username"`,
				`id="password"`, `id="remember"`, `id="why"`, `id="error"`, `>Sign in with &#34;&gt;&lt;script&gt;`, `<a href="/" id="home">`}},
		{"refused", 403, RefusedPage{Site: hostile, User: hostile, Provider: hostile, Reason: hostile, RetryURL: "/login?x=" + hostile},
			[]string{`id="reason"`, `id="retry"`, `Sign-in refused`, `<a href="/" id="home">`}},
		{"error", 503, ErrorPage{Site: hostile, Message: hostile, LinkURL: "/login", LinkText: hostile},
			[]string{`<h1>Service Unavailable</h1>`, `Error 503`, `id="error"`, `id="action"`, `<a href="/" id="home">`}},
		{"sessions", 200, SessionsPage{Site: hostile, User: hostile, Zone: hostile, CSRF: CSRF{Field: "csrf_token", Token: "tok"}, Error: hostile,
			Reauth: true, Sessions: []SessionRow{
				{Ref: "r1", Current: true, Created: now, LastSeen: now, IP: hostile, Area: hostile, UserAgent: hostile, Browser: hostile},
				{Ref: hostile, Created: now, LastSeen: now, UserAgent: hostile, Browser: hostile},
			}},
			[]string{`<tr data-ref="r1" class="current">`, `id="revoke-others"`, `name="ref" value="&#34;&gt;&lt;script&gt;`,
				`<b>this session</b>`, `id="reauth"`, " " + now.Local().Format("MST") + "</td>", `<a href="/" id="home">`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, body := render(t, nil, tc.code, tc.page)
			if w.Code != tc.code {
				t.Errorf("status %d, want %d", w.Code, tc.code)
			}
			for k, v := range map[string]string{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
				"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Content-Security-Policy": CSP, "Referrer-Policy": "same-origin"} {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			for _, bad := range []string{"<script>", "<img src=x"} {
				if strings.Contains(body, bad) {
					t.Errorf("hostile input came out as markup (%q):\n%s", bad, body)
				}
			}
			for _, want := range []string{`<meta name="viewport" content="width=device-width,initial-scale=1">`, "<style>", `<html lang="en">`} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "<script") {
				t.Errorf("the built-in page refers outside itself or runs a script:\n%s", body)
			}
		})
	}
}

// TestLoginPageParts: the sign-in page offers what the site has: the
// provider buttons, the password form, both (with a divider) or neither.
func TestLoginPageParts(t *testing.T) {
	idp := []Provider{{ID: "idp", Name: "Example ID", URL: "/.sessiond/oidc/start?next=%2F"}, {ID: "two", Name: "Two", URL: "/two"}}
	for _, tc := range []struct {
		name       string
		page       LoginPage
		want, lack []string
	}{
		{"password only", LoginPage{Password: true}, []string{`id="login"`}, []string{`id="providers"`, `class="or"`, `id="no-sign-in"`, `id="remember"`}},
		{"providers only", LoginPage{Providers: idp},
			[]string{`<a class="button block" id="idp" href="/.sessiond/oidc/start?next=%2F" data-provider="idp">Sign in with Example ID</a>`, `data-provider="two"`},
			[]string{`id="login"`, `class="or"`, `id="no-sign-in"`}},
		{"both", LoginPage{Password: true, Providers: idp[:1]}, []string{`id="login"`, `id="providers"`, `class="or"`}, []string{`id="no-sign-in"`}},
		{"neither", LoginPage{}, []string{`id="no-sign-in"`}, []string{`id="login"`, `id="providers"`}},
		{"javascript URL", LoginPage{Providers: []Provider{{ID: "x", Name: "X", URL: "javascript:alert(1)"}}},
			[]string{`href="#ZgotmplZ"`}, []string{"javascript:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, body := render(t, Default(), 200, tc.page)
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			for _, lack := range tc.lack {
				if strings.Contains(body, lack) {
					t.Errorf("page has %q:\n%s", lack, body)
				}
			}
		})
	}
}

// TestLoad: an operator's file replaces its page (with the built-in
// parts at hand, and the same escaping); pages without one stay
// built-in; a file that does not parse, fails on sample data, or names
// no page is refused with its name.
func TestLoad(t *testing.T) {
	custom := `<!doctype html><html><head>{{template "head"}}<title>ACME</title></head><body>
<h1 id="acme">ACME sign-in for {{.Site}}</h1>{{with .Error}}<p>{{.}}</p>{{end}}
<form method="post" action="{{.Action}}">{{template "csrf" .CSRF}}<input name="next" type="hidden" value="{{.Next}}"></form></body></html>`
	t.Run("override", func(t *testing.T) {
		s, err := Load(fstest.MapFS{"tpl/login.html": {Data: []byte(custom)}, "tpl/.login.html.swp": {Data: []byte("{{")},
			"tpl/.git/config": {Data: []byte("x")}}, "tpl")
		if err != nil {
			t.Fatal(err)
		}
		_, body := render(t, s, 401, LoginPage{Site: "shop", Action: "/login", CSRF: CSRF{"csrf_token", "tok"}, Next: "/a", Error: hostile})
		for _, want := range []string{`<h1 id="acme">ACME sign-in for shop</h1>`, `<input type="hidden" name="csrf_token" value="tok">`, "<style>", `value="/a"`} {
			if !strings.Contains(body, want) {
				t.Errorf("custom page lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("custom page does not escape:\n%s", body)
		}
		if _, body := render(t, s, 500, ErrorPage{Site: "shop", Message: "boom"}); !strings.Contains(body, `<p id="error">boom</p>`) {
			t.Errorf("the error page without a file is not the built-in one:\n%s", body)
		}
		if got := s.Custom(); len(got) != 1 || got[Login] != "tpl/login.html" {
			t.Errorf("Custom() = %v", got)
		}
	})
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		want  []string
	}{
		{"parse error", fstest.MapFS{"tpl/error.html": {Data: []byte("<p>\n{{if .Message}}unclosed")}},
			[]string{"tpl/error.html: ", "error.html:2", "unexpected EOF"}},
		{"misspelt field", fstest.MapFS{"tpl/sessions.html": {Data: []byte("{{range .Sessions}}{{.Nmae}}{{end}}")}},
			[]string{"tpl/sessions.html: ", "can't evaluate field Nmae"}},
		{"unknown page", fstest.MapFS{"tpl/signin.html": {Data: []byte("hi")}, "tpl/login.html": {Data: []byte("{{.Site}}")}},
			[]string{"tpl/signin.html: names no page (want one of error.html, login.html, refused.html, sessions.html)"}},
		{"two problems", fstest.MapFS{"tpl/refused.html": {Data: []byte("{{.Reason")}, "tpl/README": {Data: []byte("x")}},
			[]string{"tpl/README: names no page", "tpl/refused.html: "}},
		{"missing directory", fstest.MapFS{"other/x": {}}, []string{"tpl: ", "file does not exist"}},
		{"too big", fstest.MapFS{"tpl/login.html": {Data: make([]byte, MaxFileSize+1)}}, []string{"tpl/login.html: larger than"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load(tc.files, "tpl")
			if err == nil || s != nil {
				t.Fatalf("Load = %v, %v; want an error", s, err)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Errorf("error %v is not a *FileError", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

// TestRenderFallsBack: an operator's template that fails on some data
// at run time sends the built-in page whole, never half a page, and
// reports the error.
func TestRenderFallsBack(t *testing.T) {
	s, err := Load(fstest.MapFS{"tpl/error.html": {Data: []byte(`<p>HALF</p>{{if eq .Message "boom"}}{{index .LinkURL 99}}{{end}}`)}}, "tpl")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	err = s.Render(w, http.StatusBadGateway, ErrorPage{Site: "shop", Message: "boom"})
	if err == nil || !strings.Contains(err.Error(), "tpl/error.html") {
		t.Errorf("Render error = %v; want one naming the file", err)
	}
	if body := w.Body.String(); w.Code != http.StatusBadGateway || strings.Contains(body, "HALF") || !strings.Contains(body, `<p id="error">boom</p>`) {
		t.Errorf("fallback: %d\n%s", w.Code, body)
	}
}

// TestErrorPageTitle: the heading is the status text unless a title is
// given.
func TestErrorPageTitle(t *testing.T) {
	_, body := render(t, nil, http.StatusNotFound, ErrorPage{Site: "shop", Message: "gone"})
	if !strings.Contains(body, "<h1>Not Found</h1>") || !strings.Contains(body, "<title>Not Found — shop</title>") {
		t.Errorf("404 page:\n%s", body)
	}
	_, body = render(t, nil, http.StatusForbidden, ErrorPage{Site: "shop", Title: "Sign in over HTTPS", Message: "x"})
	if !strings.Contains(body, "<h1>Sign in over HTTPS</h1>") || !strings.Contains(body, "Error 403") {
		t.Errorf("titled page:\n%s", body)
	}
}

// TestDocsExample: the error.html that docs/pages.md shows loads and
// renders.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/pages.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```html\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/pages.md has no html example")
	}
	s, err := Load(fstest.MapFS{"tpl/error.html": {Data: []byte(example)}}, "tpl")
	if err != nil {
		t.Fatal(err)
	}
	_, body := render(t, s, http.StatusServiceUnavailable, ErrorPage{Site: "shop", Message: "down", LinkURL: "/", LinkText: "Try again"})
	if !strings.Contains(body, "<h1>Service Unavailable</h1><p>down</p>") || !strings.Contains(body, `id="home"`) {
		t.Errorf("docs example:\n%s", body)
	}
}

package pages_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/sessiond/sessiond/gateway/pages"
)

// The sign-in page with a provider button and the password form, as the
// gateway's login handler renders it.
func ExampleSet_Render_login() {
	w := httptest.NewRecorder()
	err := pages.Default().Render(w, 200, pages.LoginPage{
		Site: "shop", Action: "/login", Next: "/account",
		CSRF:      pages.CSRF{Field: "csrf_token", Token: "t0k"},
		Password:  true,
		Providers: []pages.Provider{{ID: "corp", Name: "Corp SSO", URL: "/.sessiond/oidc/start?next=%2Faccount"}},
	})
	fmt.Println(err, w.Code, w.Header().Get("Content-Type"))
	for line := range strings.Lines(w.Body.String()) {
		if strings.Contains(line, "Sign in with") || strings.Contains(line, `name="csrf_token"`) {
			fmt.Print(line)
		}
	}
	// Output:
	// <nil> 200 text/html; charset=utf-8
	// <li><a class="button block" id="corp" href="/.sessiond/oidc/start?next=%2Faccount" data-provider="corp">Sign in with Corp SSO</a></li>
	// <input type="hidden" name="csrf_token" value="t0k">
}

// A refused sign-in: the provider named the user, the site's rules do
// not let them in.
func ExampleSet_Render_refused() {
	w := httptest.NewRecorder()
	pages.Default().Render(w, 403, pages.RefusedPage{Site: "shop", User: "eve@example.org", Provider: "Corp SSO",
		Reason: "Only accounts of example.com may sign in here.", RetryURL: "/login"})
	body := w.Body.String()
	fmt.Println(w.Code, strings.Contains(body, `<p class="err" id="reason" role="alert">Only accounts of example.com may sign in here.</p>`))
	// Output: 403 true
}

// An operator's templates directory replaces the pages it has files
// for; the others stay built-in.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "pages")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "error.html"), []byte(`<!doctype html><html><head>{{template "head"}}<title>Oops</title></head>
<body><h1>{{.Code}}: {{.Title}}</h1><p>{{.Message}}</p></body></html>`), 0o644)
	s, err := pages.Load(pages.OS, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	w := httptest.NewRecorder()
	s.Render(w, 503, pages.ErrorPage{Site: "shop", Message: "The identity provider is not answering."})
	fmt.Println(strings.Contains(w.Body.String(), "<h1>503: Service Unavailable</h1>"), len(s.Custom()))

	os.WriteFile(filepath.Join(dir, "login.html"), []byte(`{{.Sitename}}`), 0o644)
	_, err = pages.Load(pages.OS, dir)
	fmt.Println(strings.TrimPrefix(err.Error(), dir+string(filepath.Separator)))
	// Output:
	// true 1
	// login.html: template: login.html:1:2: executing "login.html" at <.Sitename>: can't evaluate field Sitename in type pages.LoginPage
}

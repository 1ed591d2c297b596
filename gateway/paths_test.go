package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/secure"
)

// TestPathRulesMatchAsBackends: auth_required and exclude match every
// spelling a backend resolves to their path (another case, an extension,
// ";" parameters) unless the site sets exact_case_paths, which keeps
// extensions but not other cases.
func TestPathRulesMatchAsBackends(t *testing.T) {
	type step struct {
		path     string
		signedIn bool
		want     string // "login", "canonical" (302 to a path of the site), or the backend's "user=..." line
	}
	for _, tc := range []struct {
		name  string
		exact bool
		steps []step
	}{
		{"any case", false, []step{
			{"/account/x", false, "login"},
			{"/ACCOUNT/x", false, "login"},
			{"/Account/", false, "login"},
			{"/account.json", false, "login"},
			{"/ACCOUNT.JSON", false, "login"},
			{"/account;jsessionid=1/x", false, "canonical"},
			{"/x/..;/account/x", false, "canonical"},
			{"/accounts", false, "user=\n"},
			{"/account/x", true, "user=alice\n"},
			{"/ACCOUNT.json", true, "user=alice\n"},
			{"/static/x", true, "user=\n"}, // excluded: no session
			{"/STATIC/x", true, "user=\n"},
			{"/static.css", true, "user=\n"},
			{"/statics", true, "user=alice\n"},
		}},
		{"exact case", true, []step{
			{"/account/x", false, "login"},
			{"/account.json", false, "login"},
			{"/ACCOUNT/x", false, "user=\n"},
			{"/account;jsessionid=1/x", false, "canonical"},
			{"/STATIC/x", true, "user=alice\n"},
			{"/static/x", true, "user=\n"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, func(sc *config.Site) {
				sc.AuthRequired, sc.Session.Exclude, sc.ExactCasePaths = []string{"/account"}, []string{"/static"}, tc.exact
			})
			anon, alice := g.client(), g.client()
			if resp := doLogin(g, alice, "alice", "alice-pw", "/"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login = %d", resp.StatusCode)
			}
			for _, st := range tc.steps {
				c := anon
				if st.signedIn {
					c = alice
				}
				resp, body := g.do(c, "GET", g.httpsURL+st.path, nil, nil)
				loc := resp.Header.Get("Location")
				var ok bool
				switch st.want {
				case "login":
					ok = resp.StatusCode == http.StatusFound && strings.HasPrefix(loc, g.httpsURL+"/login?next=")
				case "canonical":
					ok = resp.StatusCode == http.StatusFound && strings.HasPrefix(loc, "/") && !strings.Contains(loc, ";")
				default:
					ok = resp.StatusCode == http.StatusOK && strings.Contains(body, "\n"+st.want)
				}
				if !ok {
					t.Errorf("GET %s (signed in %v) = %d to %q, body %q; want %q", st.path, st.signedIn, resp.StatusCode, loc, body, st.want)
				}
			}
		})
	}
}

// TestFormRuleSelectors: the selectors the redirects.rules[].form field
// documents, validated by config, are the ones the gateway runs: a page
// over plain HTTP with a matching element is sent to HTTPS and its form
// never shown; a page without one is served.
func TestFormRuleSelectors(t *testing.T) {
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		switch r.URL.Path {
		case "/signin":
			io.WriteString(w, `<html><FORM method="post" ID=login class="signin wide"><input type='password' name=pw></FORM></html>`)
		case "/search":
			io.WriteString(w, `<html><form id="search"><input name=q></form><div id=login></div></html>`)
		}
	}))
	t.Cleanup(pages.Close)
	for _, sel := range []string{"form#login", "input[type=password]", "#login", `form.signin[method="post"]`} {
		t.Run(sel, func(t *testing.T) {
			g := startGateway(t, func(sc *config.Site) {
				sc.Upstream = pages.URL
				sc.Session.Mode = config.ModeMixed
				sc.Redirects.Rules = []config.RedirectRule{{Form: sel, To: secure.HTTPS}}
			})
			c := g.client()
			resp, body := g.do(c, "GET", g.httpURL+"/signin", nil, nil)
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != g.httpsURL+"/signin" || strings.Contains(body, "password") {
				t.Fatalf("GET http /signin = %d %q %q, want a redirect to HTTPS without the form", resp.StatusCode, resp.Header.Get("Location"), body)
			}
			resp, body = g.do(c, "GET", g.httpURL+"/search", nil, nil)
			wantSearch := http.StatusOK
			if sel == "#login" { // any element with that id
				wantSearch = http.StatusFound
			}
			if resp.StatusCode != wantSearch {
				t.Fatalf("GET http /search = %d %q, want %d", resp.StatusCode, body, wantSearch)
			}
		})
	}
}

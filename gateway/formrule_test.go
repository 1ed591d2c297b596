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

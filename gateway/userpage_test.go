package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
)

// TestSessionsPageDetails: a way home, times with their zone, the
// sign-in's browser in words, and no "sign out everywhere else" when
// there is nowhere else; a revoked session is gone from the list.
func TestSessionsPageDetails(t *testing.T) {
	g := startGateway(t, nil)
	a, b := g.client(), g.client()
	doLogin(g, a, "alice", "alice-pw", "/")
	_, page := g.do(a, "GET", g.httpsURL+sessionsPage, nil, nil)
	zone, _ := time.Now().Zone()
	for _, want := range []string{`<a href="/" id="home">`, " " + zone + "</td>", `id="alone"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("sessions page alone lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "revoke-others") {
		t.Fatalf("one session, yet the page offers to sign out everywhere else:\n%s", page)
	}
	g.do(b, "GET", g.httpsURL+"/login", nil, http.Header{"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}})
	resp := doLogin(g, b, "alice", "alice-pw", "/")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second login = %d", resp.StatusCode)
	}
	_, page = g.do(a, "GET", g.httpsURL+sessionsPage, nil, nil)
	if strings.Count(page, "data-ref=") != 2 || !strings.Contains(page, `id="revoke-others"`) || strings.Contains(page, `id="alone"`) {
		t.Fatalf("two sessions: page:\n%s", page)
	}
	// The other row, and its ref.
	_, rest, _ := strings.Cut(page, `<tr data-ref="`)
	if strings.HasPrefix(rest[strings.Index(rest, `"`):], `" class="current"`) {
		_, rest, _ = strings.Cut(rest, `<tr data-ref="`)
	}
	ref := rest[:strings.Index(rest, `"`)]
	tok := between(page, `name="csrf_token" value="`, `"`)
	if resp, _ := g.do(a, "POST", g.httpsURL+sessionsPage+"/revoke", url.Values{"csrf_token": {tok}, "ref": {ref}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke = %d", resp.StatusCode)
	}
	_, page = g.do(a, "GET", g.httpsURL+sessionsPage, nil, nil)
	if strings.Contains(page, ref) || strings.Count(page, "data-ref=") != 1 {
		t.Fatalf("the revoked session %s is still listed:\n%s", ref, page)
	}
	resp, body := g.do(a, "POST", g.httpsURL+sessionsPage+"/revoke", url.Values{"csrf_token": {tok}, "ref": {ref}}, nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `id="home"`) {
		t.Fatalf("revoking it again = %d; want 404 on a page with a way home:\n%s", resp.StatusCode, body)
	}
}

// TestGatewayPagesLinkHome: every page the gateway itself answers with —
// sign-in, sessions, refusals and errors — has a way back to the site.
func TestGatewayPagesLinkHome(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) {
		sc.CSRF.EnforceOrigin = true
	})
	c := g.client()
	doLogin(g, c, "alice", "alice-pw", "/")
	for _, tc := range []struct {
		name, method, url string
		hdr               http.Header
		code              int
	}{
		{"login page", "GET", g.httpsURL + "/login", nil, 200},
		{"sessions page", "GET", g.httpsURL + sessionsPage, nil, 200},
		{"password over HTTP", "POST", g.httpURL + "/login", nil, http.StatusForbidden},
		{"credentials over HTTP", "POST", g.httpURL + "/logout", nil, http.StatusForbidden},
		{"cross-origin form", "POST", g.httpsURL + "/p", http.Header{"Origin": {"https://evil.test"}}, http.StatusForbidden},
		{"GET logout", "GET", g.httpsURL + "/logout", nil, http.StatusMethodNotAllowed},
		{"revoke without a ref", "POST", g.httpsURL + sessionsPage + "/revoke", nil, http.StatusForbidden},
	} {
		var form url.Values
		if tc.method == "POST" {
			form = url.Values{"x": {"1"}}
		}
		resp, body := g.do(c, tc.method, tc.url, form, tc.hdr)
		if resp.StatusCode != tc.code || !strings.Contains(body, `<a href="/" id="home">`) {
			t.Errorf("%s: %d, want %d and a link home:\n%s", tc.name, resp.StatusCode, tc.code, body)
		}
	}
}

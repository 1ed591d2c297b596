package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"
)

func doLogin(g *gw, c *http.Client, user, pass, next string) *http.Response {
	g.t.Helper()
	_, page := g.do(c, "GET", g.httpsURL+"/login", nil, nil)
	tok := between(page, `name="csrf_token" value="`, `"`)
	resp, _ := g.do(c, "POST", g.httpsURL+"/login", url.Values{"csrf_token": {tok}, "username": {user},
		"password": {pass}, "next": {next}}, nil)
	return resp
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

func TestLoginFlow(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) { sc.AuthRequired = []string{"/account"} })
	c := g.client()
	resp, _ := g.do(c, "GET", g.httpsURL+"/account/settings", nil, nil)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), g.httpsURL+"/login?next=") {
		t.Fatalf("auth-required path = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := doLogin(g, c, "alice", "wrong", "/account"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password = %d, want 401", resp.StatusCode)
	}
	u, _ := url.Parse(g.httpsURL)
	var before string
	for _, ck := range c.Jar.Cookies(u) {
		before = ck.Value
	}
	resp = doLogin(g, c, "alice", "alice-pw", "/account/settings")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account/settings" {
		t.Fatalf("login = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var after string
	for _, ck := range c.Jar.Cookies(u) {
		after = ck.Value
	}
	if after == before || after == "" {
		t.Fatal("login did not regenerate the session ID")
	}
	if _, body := g.do(c, "GET", g.httpsURL+"/account/settings", nil, nil); !strings.Contains(body, "user=alice") {
		t.Fatalf("after login the backend saw %q", body)
	}
	// Logout needs the CSRF token; without it, refused.
	if resp, _ := g.do(c, "POST", g.httpsURL+"/logout", url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without token = %d, want 403", resp.StatusCode)
	}
	_, page := g.do(c, "GET", g.httpsURL+"/login", nil, nil)
	tok := between(page, `name="csrf_token" value="`, `"`)
	if resp, _ := g.do(c, "POST", g.httpsURL+"/logout", url.Values{"csrf_token": {tok}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d", resp.StatusCode)
	}
	if _, body := g.do(c, "GET", g.httpsURL+"/p", nil, nil); strings.Contains(body, "alice") {
		t.Fatal("still logged in after logout")
	}
}

func TestLoginOpenRedirectRefused(t *testing.T) {
	g := startGateway(t, nil)
	for _, next := range []string{"//evil.example/", `/\evil.example`, "/%09/evil.example", "https:evil.example",
		"https://evil.example/", "/%5Cevil.example", " //evil.example", "/\t/evil.example", "javascript:alert(1)"} {
		t.Run(next, func(t *testing.T) {
			resp := doLogin(g, g.client(), "alice", "alice-pw", next)
			if loc := resp.Header.Get("Location"); loc != "/" {
				t.Fatalf("next=%q led to %q, want /", next, loc)
			}
		})
	}
}

func TestLoginRateLimited(t *testing.T) {
	g := startGateway(t, nil)
	c := g.client()
	code := 0
	for range 12 {
		code = doLogin(g, c, "alice", "guess", "/").StatusCode
	}
	if code != http.StatusTooManyRequests {
		t.Fatalf("12 wrong passwords in a row: last = %d, want 429", code)
	}
	// Even the right password waits now: no oracle during the lockout.
	if code := doLogin(g, c, "alice", "alice-pw", "/").StatusCode; code != http.StatusTooManyRequests {
		t.Fatalf("right password during lockout = %d", code)
	}
}

func TestLoginOverHTTPRefused(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) { sc.Session.Mode = config.ModeMixed })
	c := g.client()
	resp, body := g.do(c, "POST", g.httpURL+"/login", url.Values{"username": {"alice"}, "password": {"alice-pw"}}, nil)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
		t.Fatalf("login POST over HTTP = %d (Location %q), want 403 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !strings.Contains(body, g.httpsURL+"/login") {
		t.Fatal("refusal page does not link to the HTTPS login")
	}
}

func TestHTTPSOnlySiteRedirectsHTTP(t *testing.T) {
	g := startGateway(t, nil)
	resp, _ := g.do(g.client(), "GET", g.httpURL+"/x?a=1", nil, nil)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != g.httpsURL+"/x?a=1" {
		t.Fatalf("HTTP on an https-only site = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

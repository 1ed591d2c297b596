package main_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessiond/sessiond/internal/testbrowser"
	"github.com/sessiond/sessiond/internal/testoidc"
)

// TestOIDCReauth: past reauth_after, signing out other sessions of a user
// who signed in at the provider sends the browser to the provider with
// prompt=login and max_age=0 and back to the sessions page, and the action
// then works. Refused, audited, and nothing revoked: an ID token whose
// auth_time is old (a provider that ignored max_age) or missing, and
// another user signing in at the provider. The session stays signed in.
func TestOIDCReauth(t *testing.T) {
	eachOIDCStore(t, gatewayStores, func(t *testing.T, st storeCase, up *upstream, g oidcGateway) {
		host := "app.localhost"
		alice, other := web{t, client()}, web{t, client()}
		oidcLogin(alice, g, host, "alice", "/")
		oidcLogin(other, g, host, "alice", "/")
		time.Sleep(1100 * time.Millisecond) // past reauth_after

		// askRevokeOthers posts "sign out everywhere else" from the
		// sessions page and returns the answer.
		askRevokeOthers := func() *http.Response {
			t.Helper()
			_, page := alice.do("GET", g.url(host, "/.sessiond/sessions"), nil)
			if strings.Contains(page, `type="password"`) {
				t.Fatalf("the sessions page asks an OpenID user for a password:\n%s", page)
			}
			resp, _ := alice.do("POST", g.url(host, "/.sessiond/sessions/revoke-others"), url.Values{"csrf_token": {field(page, "csrf_token")}})
			return resp
		}
		// reauth posts the action, expects to be sent to the provider,
		// and follows the sign-in there as user (forged by f, if set).
		reauth := func(user string, f *testoidc.Forgery) (*http.Response, string) {
			t.Helper()
			resp := askRevokeOthers()
			start := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(start, "/.sessiond/oidc/login?reauth=1&next=%2F.sessiond%2Fsessions") {
				t.Fatalf("revoke-others past reauth_after = %d to %q, want 303 to the re-authentication", resp.StatusCode, start)
			}
			resp, _ = alice.do("GET", g.url(host, start), nil)
			authz, _ := url.Parse(resp.Header.Get("Location"))
			if q := authz.Query(); q.Get("prompt") != "login" || q.Get("max_age") != "0" {
				t.Fatalf("sent to the provider at %s, want prompt=login and max_age=0", authz)
			}
			g.op.NextUser(user)
			if f != nil {
				g.op.ForgeNextIDToken(*f)
			}
			resp, body, _ := follow(alice, authz.String())
			return resp, body
		}

		for _, tc := range []struct {
			name, user, reason string
			forge              *testoidc.Forgery
		}{
			{"stale auth_time", "alice", "stale_auth_time", &testoidc.Forgery{Edit: func(c map[string]any) {
				c["auth_time"] = time.Now().Add(-time.Hour).Unix()
			}}},
			{"no auth_time", "alice", "no_auth_time", &testoidc.Forgery{Edit: func(c map[string]any) { delete(c, "auth_time") }}},
			{"another user", "bob", "another_user", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := reauth(tc.user, tc.forge)
				if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "did not confirm") {
					t.Fatalf("re-authentication answer = %d, want 401 saying so:\n%s", resp.StatusCode, body)
				}
				g.waitAudit(t, "reauth.failed", `"reason":"`+tc.reason+`"`)
				if u, o := whoAmI(alice, g.gateway, host), whoAmI(other, g.gateway, host); u != "u-alice" || o != "u-alice" {
					t.Fatalf("after a refused re-authentication: this session %q, the other %q; want both still u-alice", u, o)
				}
			})
		}

		resp, _ := reauth("alice", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/.sessiond/sessions" {
			t.Fatalf("re-authentication = %d to %q, want 303 back to the sessions page", resp.StatusCode, resp.Header.Get("Location"))
		}
		g.waitAudit(t, "reauth.ok", `"user":"u-alice"`)
		resp = askRevokeOthers()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/.sessiond/sessions" {
			t.Fatalf("revoke-others right after re-authenticating = %d to %q, want it done", resp.StatusCode, resp.Header.Get("Location"))
		}
		if u, o := whoAmI(alice, g.gateway, host), whoAmI(other, g.gateway, host); u != "u-alice" || o != "" {
			t.Fatalf("after sign out everywhere else: this session %q, the other %q; want u-alice and signed out", u, o)
		}
	}, 5*time.Minute, 15*time.Minute, "      reauth_after: 1s\n")
}

// TestOIDCBrowserReauth: in Chromium through the built binary, "Sign out
// everywhere else" past reauth_after takes an OpenID user to the
// provider's sign-in form (whose session would otherwise sign them in
// without asking), back to the sessions page, and then signs the other
// session out. Screenshots go to the test artifacts.
func TestOIDCBrowserReauth(t *testing.T) {
	bin := buildSessiond(t)
	g := startOIDCGateway(t, bin, gatewayStores[0], oidcBrowserApp(t).URL, 5*time.Minute, 15*time.Minute, "      reauth_after: 1s\n")
	b := testbrowser.Launch(t, testbrowser.Options{HostRules: "MAP *.localhost 127.0.0.1", Timeout: 60 * time.Second})
	p := &page{t: t, ctx: b.Tab, b: b, dir: testbrowser.ArtifactDir(t)}
	host := "app.localhost"
	signIn := func(what, landing string) {
		t.Helper()
		p.do(what+": the provider's form", chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "alice"))
		p.screenshot(what + "-provider-form")
		p.navigate(what+": back from the provider", landing, http.StatusOK, chromedp.Click(chromedp.ID("signin"), chromedp.NodeVisible))
	}

	p.navigate("login page", g.url(host, "/login?next=%2Fprivate"), http.StatusOK, chromedp.Navigate(g.url(host, "/private")))
	p.do("to the provider", chromedp.Click(chromedp.ID("oidc"), chromedp.NodeVisible))
	signIn("sign-in", g.url(host, "/private"))
	other := web{t, client()}
	oidcLogin(other, g, host, "alice", "/")
	otherUser := func() string { // whoAmI, on oidcBrowserApp's HTML
		u, _, _ := strings.Cut(whoAmI(other, g.gateway, host), "<")
		return u
	}
	time.Sleep(1100 * time.Millisecond) // past reauth_after

	p.navigate("sessions page", g.url(host, "/.sessiond/sessions"), http.StatusOK, chromedp.Navigate(g.url(host, "/.sessiond/sessions")))
	if p.present("reauth-password") {
		p.fatalf("the sessions page asks an OpenID user for a password")
	}
	p.screenshot("sessions")
	revokeOthers := chromedp.Click(chromedp.CSS(`#revoke-others button`), chromedp.NodeVisible)
	p.do("sign out everywhere else", revokeOthers)
	signIn("re-authentication", g.url(host, "/.sessiond/sessions"))
	if u := otherUser(); u != "u-alice" {
		t.Fatalf("the other session before the action: %q", u)
	}
	p.navigate("sign out everywhere else, proven", g.url(host, "/.sessiond/sessions"), http.StatusOK, revokeOthers)
	p.screenshot("sessions-after")
	if u := otherUser(); u != "" {
		t.Fatalf("the other session after sign out everywhere else: %q", u)
	}
	g.waitAudit(t, "reauth.ok", `"user":"u-alice"`)
}

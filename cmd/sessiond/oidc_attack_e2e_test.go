package main_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testoidc"
)

// signedOut asserts that w is not signed in on host.
func signedOut(t *testing.T, w web, g oidcGateway, host, what string) {
	t.Helper()
	if u := whoAmI(w, g.gateway, host); u != "" {
		t.Fatalf("%s: signed in as %q", what, u)
	}
}

// startState starts a sign-in on host without going to the provider and
// returns the authorization URL's state.
func startState(w web, g oidcGateway, host string) string {
	w.t.Helper()
	resp, _ := w.do("GET", g.url(host, "/.sessiond/oidc/login?next=/"), nil)
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || u.Query().Get("state") == "" {
		w.t.Fatalf("sign-in start = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return u.Query().Get("state")
}

// TestAttackOIDC sends the attacks on an OpenID sign-in to the built
// binary, on each store: each is refused, audited, and signs nobody in.
func TestAttackOIDC(t *testing.T) {
	eachOIDCStore(t, gatewayStores, func(t *testing.T, st storeCase, up *upstream, g oidcGateway) {
		const host = "app.localhost"

		t.Run("wrong state", func(t *testing.T) {
			w := web{t, client()}
			startState(w, g, host)
			resp, _ := w.do("GET", g.url(host, "/.sessiond/oidc/callback?code=x&state=forged"), nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("forged state = %d, want 400", resp.StatusCode)
			}
			signedOut(t, w, g, host, "forged state")
			g.waitAudit(t, "login.failed", `"reason":"wrong_state"`)
		})

		t.Run("replayed callback and code", func(t *testing.T) {
			victim := web{t, client()}
			resp, _, cb := oidcLogin(victim, g, host, "alice", "/")
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login = %d", resp.StatusCode)
			}
			// The same callback again, in the victim's browser and in an
			// attacker's that started a sign-in of its own.
			if resp, _ := victim.do("GET", cb, nil); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("callback replayed = %d, want 400", resp.StatusCode)
			}
			attacker := web{t, client()}
			state := startState(attacker, g, host)
			code := mustQuery(t, cb, "code")
			resp, _ = attacker.do("GET", g.url(host, "/.sessiond/oidc/callback?state="+url.QueryEscape(state)+"&code="+url.QueryEscape(code)), nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("used code with the attacker's own state = %d, want 401", resp.StatusCode)
			}
			signedOut(t, attacker, g, host, "replayed code")
			g.waitAudit(t, "login.failed", `"reason":"code_refused"`)
		})

		for _, f := range []struct {
			name, reason string
			forgery      testoidc.Forgery
		}{
			{"wrong audience", "id_token:wrong_audience", testoidc.WrongAudience},
			{"other issuer", "id_token:wrong_issuer", testoidc.OtherIssuer},
			{"expired", "id_token:expired", testoidc.Expired},
			{"wrong nonce", "id_token:wrong_nonce", testoidc.WrongNonce},
			{"alg none", "id_token:", testoidc.Unsigned},
			{"bad signature", "id_token:bad_signature", testoidc.BadSignature},
		} {
			t.Run(f.name, func(t *testing.T) {
				w := web{t, client()}
				g.op.ForgeNextIDToken(f.forgery)
				resp, body, _ := oidcLogin(w, g, host, "alice", "/")
				if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "could not be verified") {
					t.Fatalf("forged ID token = %d, want 401 with the login page", resp.StatusCode)
				}
				signedOut(t, w, g, host, f.name)
				g.waitAudit(t, "login.failed", `"reason":"`+f.reason)
			})
		}

		t.Run("user outside the allowed groups", func(t *testing.T) {
			w := web{t, client()}
			resp, body, _ := oidcLogin(w, g, "staff.localhost", "mallory", "/")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not in a group") {
				t.Fatalf("mallory on the staff site = %d %s", resp.StatusCode, body)
			}
			signedOut(t, w, g, "staff.localhost", "mallory")
			g.waitAudit(t, "login.refused", `"user":"u-mallory"`, `"reason":"group_not_allowed"`)
			// eve is staff, from another domain.
			resp, body, _ = oidcLogin(web{t, client()}, g, "staff.localhost", "eve", "/")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "allowed email domain") {
				t.Fatalf("eve on the staff site = %d %s", resp.StatusCode, body)
			}
			g.waitAudit(t, "login.refused", `"user":"u-eve"`, `"reason":"domain_not_allowed"`)
			// bob is staff with an allowed domain: admitted.
			if resp, _, _ := oidcLogin(web{t, client()}, g, "staff.localhost", "bob", "/"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("bob on the staff site = %d", resp.StatusCode)
			}
		})

		t.Run("forged logout tokens", func(t *testing.T) {
			w := web{t, client()}
			if resp, _, _ := oidcLogin(w, g, host, "alice", "/"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login = %d", resp.StatusCode)
			}
			bc := g.url(host, "/.sessiond/oidc/backchannel")
			good := func() map[string]any { return g.op.LogoutTokenClaims(testoidc.LogoutToken{Subject: "u-alice"}) }
			for _, f := range []struct {
				name, reason string
				key          testoidc.Key
				edit         func(map[string]any)
			}{
				{"alg none", "", testoidc.KeyNone, nil},
				{"bad signature", "bad_signature", testoidc.KeyForeign, nil},
				{"other audience", "wrong_audience", testoidc.KeyProvider, func(c map[string]any) { c["aud"] = "another-client" }},
				{"other issuer", "wrong_issuer", testoidc.KeyProvider, func(c map[string]any) { c["iss"] = "https://other-issuer.example" }},
				{"with a nonce", "nonce_present", testoidc.KeyProvider, func(c map[string]any) { c["nonce"] = "n" }},
				{"no logout event", "not_a_logout_token", testoidc.KeyProvider, func(c map[string]any) { delete(c, "events") }},
				{"expired", "expired", testoidc.KeyProvider, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }},
			} {
				c := good()
				if f.edit != nil {
					f.edit(c)
				}
				tok, err := g.op.Sign(f.key, "logout+jwt", c)
				if err != nil {
					t.Fatal(err)
				}
				code, err := g.op.PostLogoutToken(context.Background(), bc, tok)
				if err != nil || code != http.StatusBadRequest {
					t.Fatalf("%s: logout token answered %d %v, want 400", f.name, code, err)
				}
				g.waitAudit(t, "oidc.backchannel_refused", `"reason":"`+f.reason)
			}
			if u := whoAmI(w, g.gateway, host); u != "u-alice" {
				t.Fatalf("alice signed out by a forged logout token: %q", u)
			}
		})

		t.Run("logout token for one provider session", func(t *testing.T) {
			// bob's provider session that a sign-in made.
			signIn := func() (web, string) {
				before := g.op.Sessions("bob")
				w := web{t, client()}
				if resp, _, _ := oidcLogin(w, g, host, "bob", "/"); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("login = %d", resp.StatusCode)
				}
				for _, sid := range g.op.Sessions("bob") {
					if !slices.Contains(before, sid) {
						return w, sid
					}
				}
				t.Fatalf("no new provider session: %v", before)
				return w, ""
			}
			first, sid := signIn()
			second, _ := signIn()
			tok, err := g.op.LogoutToken(testoidc.LogoutToken{SID: sid})
			if err != nil {
				t.Fatal(err)
			}
			if code, err := g.op.PostLogoutToken(context.Background(), g.url(host, "/.sessiond/oidc/backchannel"), tok); err != nil || code != http.StatusOK {
				t.Fatalf("logout token = %d %v", code, err)
			}
			signedOut(t, first, g, host, "bob's first browser after its provider session ended")
			if u := whoAmI(second, g.gateway, host); u != "u-bob" {
				t.Fatalf("bob's other browser = %q, want still signed in", u)
			}
			if st.name == "cookie" {
				// A cookie cannot be ended from the server: signed out
				// at its next request.
				g.waitAudit(t, "session.oidc_logout", `"user":"u-bob"`)
			} else {
				g.waitAudit(t, "oidc.backchannel_logout", `"revoked":1`)
			}
		})

		t.Run("provider down at login", func(t *testing.T) {
			w := web{t, client()}
			g.op.Stop()
			defer g.op.Start()
			resp, body := w.do("GET", g.url(host, "/.sessiond/oidc/login?next=/"), nil)
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "cannot be reached") {
				t.Fatalf("provider down: %d %s", resp.StatusCode, body)
			}
			if c := sessionCookie(w, g.gateway, host); c != "" {
				t.Fatalf("provider down: a session was started (%d bytes of cookie)", len(c))
			}
			signedOut(t, w, g, host, "provider down")
			g.waitAudit(t, "login.provider_down")
		})
	}, 5*time.Minute, 15*time.Minute)
}

func mustQuery(t *testing.T, u, key string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil || p.Query().Get(key) == "" {
		t.Fatalf("%s has no %s", u, key)
	}
	return p.Query().Get(key)
}

package main_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testoidc"
)

// TestOIDCRefresh re-checks signed-in users at the provider every
// refresh_every (1s here), through the built binary on each store: a good
// refresh keeps the session and brings new groups, a refused refresh or a
// user no longer admitted signs out, and a provider that is down keeps the
// session for down_grace (2s), then signs out.
func TestOIDCRefresh(t *testing.T) {
	const host = "app.localhost"
	eachOIDCStore(t, gatewayStores, func(t *testing.T, st storeCase, up *upstream, g oidcGateway) {
		signIn := func(host, user string) web {
			t.Helper()
			w := web{t, client()}
			if resp, _, _ := oidcLogin(w, g, host, user, "/"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s's sign-in = %d", user, resp.StatusCode)
			}
			return w
		}
		alice, bob, bobStaff := signIn(host, "alice"), signIn(host, "bob"), signIn("staff.localhost", "bob")

		g.op.RevokeRefreshTokens("alice")
		if err := g.op.UpdateUser(testoidc.User{Subject: "u-bob", Username: "bob", Email: "bob@example.com", Groups: []string{"dev"}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond)
		signedOut(t, alice, g, host, "alice after a refused refresh")
		g.waitAudit(t, "session.oidc_refresh_refused", `"user":"u-alice"`)
		if u := whoAmI(bob, g.gateway, host); u != "u-bob" || up.seen().Get("X-Session-Groups") != "dev" {
			t.Fatalf("bob after a good refresh: %q, groups %q", u, up.seen().Get("X-Session-Groups"))
		}
		signedOut(t, bobStaff, g, "staff.localhost", "bob, no longer staff")
		g.waitAudit(t, "session.oidc_refused", `"user":"u-bob"`)

		// The provider goes down: bob keeps working for down_grace.
		time.Sleep(1100 * time.Millisecond)
		whoAmI(bob, g.gateway, host) // a good check now
		g.op.Stop()
		defer g.op.Start()
		time.Sleep(1100 * time.Millisecond)
		if u := whoAmI(bob, g.gateway, host); u != "u-bob" {
			t.Fatalf("bob within down_grace of a provider that is down: %q", u)
		}
		time.Sleep(2500 * time.Millisecond)
		signedOut(t, bob, g, host, "bob past down_grace")
		g.waitAudit(t, "session.oidc_provider_down", `"user":"u-bob"`)
	}, time.Second, 2*time.Second)
}

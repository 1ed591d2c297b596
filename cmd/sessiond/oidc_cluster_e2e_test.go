package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testoidc"
)

// secondGateway starts another `sessiond serve` with g's configuration
// (the same store, keys and sites) on ports of its own: a second gateway
// process of the same deployment.
func secondGateway(t *testing.T, bin string, g oidcGateway) gateway {
	t.Helper()
	text, err := os.ReadFile(g.config)
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		b := gateway{dir: g.dir, https: testenv.FreePort(t), http: testenv.FreePort(t), admin: testenv.FreePort(t),
			config: filepath.Join(g.dir, fmt.Sprintf("second-%d.yaml", attempt))}
		cfg := strings.NewReplacer(
			fmt.Sprintf("127.0.0.1:%d\"", g.https), fmt.Sprintf("127.0.0.1:%d\"", b.https),
			fmt.Sprintf("127.0.0.1:%d\"", g.http), fmt.Sprintf("127.0.0.1:%d\"", b.http),
			fmt.Sprintf("127.0.0.1:%d\"", g.admin), fmt.Sprintf("127.0.0.1:%d\"", b.admin),
		).Replace(string(text))
		if b.startConfig(t, bin, cfg, attempt == 3) {
			return b
		}
	}
}

// TestOIDCBackchannelAcrossGateways: two gateway processes on one store
// (a SQLite file, a Redis server, the cookie store with its revocations in
// a SQLite file). A logout token posted to one gateway ends the sessions
// it names that another gateway serves, which never saw the token: by
// sid, and by sub. A copy of a session cookie taken before the logout
// stays signed out after both gateways restart.
func TestOIDCBackchannelAcrossGateways(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			a := startOIDCGateway(t, bin, st, up.srv.URL, 5*time.Minute, 15*time.Minute)
			b := secondGateway(t, bin, a)
			ctx := context.Background()

			bob, alice := web{t, client()}, web{t, client()}
			oidcLogin(bob, a, "app.localhost", "bob", "/")
			oidcLogin(alice, a, "app.localhost", "alice", "/")
			for name, w := range map[string]web{"u-bob": bob, "u-alice": alice} {
				if ua, ub := whoAmI(w, a.gateway, "app.localhost"), whoAmI(w, b, "app.localhost"); ua != name || ub != name {
					t.Fatalf("signed in through gateway A: A sees %q, B sees %q; want %q at both", ua, ub, name)
				}
			}
			copies := map[string]string{"u-bob": sessionCookie(bob, a.gateway, "app.localhost"),
				"u-alice": sessionCookie(alice, a.gateway, "app.localhost")}

			sids := a.op.Sessions("bob")
			if len(sids) != 1 {
				t.Fatalf("bob's provider sessions = %v, want one", sids)
			}
			for _, lt := range []testoidc.LogoutToken{{Audience: "app.localhost", SID: sids[0]}, {Audience: "app.localhost", Subject: "u-alice"}} {
				tok, err := a.op.LogoutToken(lt)
				if err != nil {
					t.Fatal(err)
				}
				code, err := a.op.PostLogoutToken(ctx, b.url("app.localhost", "/.sessiond/oidc/backchannel"), tok)
				if err != nil || code != http.StatusOK {
					t.Fatalf("logout token %+v to gateway B = %d, %v; want 200", lt, code, err)
				}
			}

			// Gateway A never saw the tokens; it restarts before serving
			// the sessions again, and so does B.
			a.restart(t, bin)
			b.restart(t, bin)
			for name, cookie := range copies {
				for gname, g := range map[string]gateway{"A": a.gateway, "B": b} {
					thief := web{t, client()}
					thief.c.Jar.SetCookies(mustURL(t, g.url("app.localhost", "/")), []*http.Cookie{{Name: "__Host-sid", Value: cookie, Path: "/", Secure: true}})
					if u := whoAmI(thief, g, "app.localhost"); u != "" {
						t.Fatalf("%s's pre-logout cookie at gateway %s after restarts is signed in as %q", name, gname, u)
					}
				}
			}
			if u := whoAmI(bob, a.gateway, "app.localhost"); u != "" {
				t.Fatalf("bob still signed in as %q at gateway A", u)
			}
			a.waitAudit(t, "oidc.backchannel_logout", `"user":"u-alice"`)

			// A fresh sign-in after the logout is not ended by it.
			oidcLogin(alice, a, "app.localhost", "alice", "/")
			if u := whoAmI(alice, b, "app.localhost"); u != "u-alice" {
				t.Fatalf("alice signed in again after the logout: gateway B sees %q", u)
			}
		})
	}
}

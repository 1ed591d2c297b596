package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
)

// twoSites starts two Managers on one store (or one cookie codec), as two
// sites of one gateway: realms a and b.
func twoSites(t *testing.T, a, b string, cfg session.Config) (*harness, *harness) {
	t.Helper()
	cfgA := cfg
	cfgA.Realm = a
	ha := newHarness(t, cfgA, nil)
	cfgB := cfg
	cfgB.Realm = b
	if cfg.Codec == nil {
		cfgB.Store = ha.store
	}
	cfgB.Now = ha.clock.Now
	hb := newHarness(t, cfgB, nil)
	hb.clock = ha.clock
	return ha, hb
}

func whoami(h *harness, sid string) string {
	h.t.Helper()
	_, body, _ := h.do(h.rawClient(), "GET", "/whoami", cookieHeader("__Host-sid", sid))
	return body
}

// Attack: the session ID (or cookie) of one site presented to another site
// of the same gateway. It is unknown there: strict mode, nothing adopted,
// and the refusal is audited. The same ID keeps working on its own site,
// and two Managers that share a realm do share it (so the test can fail).
func TestRealmIDRefusedOnAnotherSite(t *testing.T) {
	codec := func(t *testing.T) session.CookieCodec {
		c, err := cookie.New(cookie.Config{Keys: [][]byte{cookie.GenerateKey()}, Revocations: cookie.NewMemoryRevocations()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, store := range []string{"server store", "cookie codec"} {
		t.Run(store, func(t *testing.T) {
			cfg := session.Config{}
			if store == "cookie codec" {
				cfg.Codec = codec(t)
			}
			shop, outlet := twoSites(t, "shop", "outlet", cfg)
			c := shop.client()
			shop.do(c, "POST", "/login?u=alice", nil)
			shop.do(c, "POST", "/set?k=cart&v=1,2", nil)
			sid := shop.sid(c)
			if whoami(shop, sid) != "alice" {
				t.Fatal("setup: alice is not signed in on her own site")
			}
			writes := shop.store.writes()
			_, body, resp := outlet.do(outlet.rawClient(), "GET", "/whoami", cookieHeader("__Host-sid", sid))
			if body != "" {
				t.Fatalf("shop's session presented to outlet is signed in as %q", body)
			}
			if _, cart, _ := outlet.do(outlet.rawClient(), "GET", "/get?k=cart", cookieHeader("__Host-sid", sid)); cart != "" {
				t.Fatalf("shop's session presented to outlet shows its cart %q", cart)
			}
			if len(resp.Cookies()) != 0 || shop.store.writes() != writes {
				t.Fatal("a refused foreign ID caused a write or a cookie (a read-only request must stay lazy)")
			}
			if ev, ok := outlet.auditor().Last("session.unknown_id"); !ok || attr(ev, "realm") != "outlet" {
				t.Fatalf("the refused foreign ID was not audited on outlet: %+v", ev)
			}
			if whoami(shop, sid) != "alice" {
				t.Fatal("the refusal on outlet harmed alice's session on shop")
			}
			// Control: a Manager of the same realm shares the session.
			cfg.Realm = "shop"
			if cfg.Codec == nil {
				cfg.Store = shop.store
			}
			twin := newHarness(t, cfg, nil)
			if whoami(twin, sid) != "alice" {
				t.Fatal("control failed: a Manager sharing the realm does not share the session")
			}
		})
	}
}

func attr(e session.Event, key string) string {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value.String()
		}
	}
	return ""
}

// Defense in depth: a record of another realm that a store hands back (a
// forged or migrated row whose hash matches) is refused and audited.
func TestRealmForeignRecordRefused(t *testing.T) {
	shop, outlet := twoSites(t, "shop", "outlet", session.Config{})
	id, _ := token.NewIn("outlet")
	h, _ := token.ParseIn("outlet", id)
	now := shop.clock.Now()
	forged := &session.Record{Ref: token.Ref(), Realm: "shop", ID: h, User: "admin", Created: now, LastSeen: now,
		Saved: now, Rotated: now, Version: 1}
	if err := shop.store.Create(context.Background(), forged); err != nil {
		t.Fatal(err)
	}
	if got := whoami(outlet, id); got != "" {
		t.Fatalf("a shop record found under an outlet hash is signed in as %q on outlet", got)
	}
	if _, ok := outlet.auditor().Last("session.foreign_realm"); !ok {
		t.Fatal("a foreign record was refused silently")
	}
}

// The user index, the sessions list, revocation and theft detection work
// per realm: alice of outlet is not alice of shop.
func TestRealmUserSessionsPerRealm(t *testing.T) {
	shop, outlet := twoSites(t, "shop", "outlet", session.Config{RotateEvery: time.Minute, Grace: time.Second})
	ctx := context.Background()
	shopAlice, outletAlice, outletAlice2 := shop.client(), outlet.client(), outlet.client()
	shop.do(shopAlice, "POST", "/login?u=alice", nil)
	outlet.do(outletAlice, "POST", "/login?u=alice", nil)
	outlet.do(outletAlice2, "POST", "/login?u=alice", nil)
	shopSID := shop.sid(shopAlice)

	list, err := outlet.m.ListUserSessions(ctx, "alice")
	if err != nil || len(list) != 2 {
		t.Fatalf("outlet lists %d sessions of alice (err %v), want its own 2", len(list), err)
	}
	shopList, _ := shop.m.ListUserSessions(ctx, "alice")
	if len(shopList) != 1 {
		t.Fatalf("shop lists %d sessions of alice, want 1", len(shopList))
	}
	if err := outlet.m.RevokeSession(ctx, "alice", shopList[0].Ref); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("outlet revoking shop's session: %v, want ErrNotFound", err)
	}
	if whoami(shop, shopSID) != "alice" {
		t.Fatal("outlet revoked a session of shop by its ref")
	}

	// Theft on outlet (an obsolete ID after grace) revokes outlet's alice only.
	old := outlet.sid(outletAlice)
	shop.clock.Advance(2 * time.Minute)
	outlet.do(outletAlice, "GET", "/whoami", nil) // rotates
	shop.do(shopAlice, "GET", "/whoami", nil)     // shop rotates too; the jar follows
	shop.clock.Advance(5 * time.Second)
	whoami(outlet, old)
	if _, ok := outlet.auditor().Last("session.obsolete_id"); !ok {
		t.Fatal("setup: no theft signal on outlet")
	}
	if _, body, _ := outlet.do(outletAlice2, "GET", "/whoami", nil); body != "" {
		t.Fatal("setup: the theft action did not revoke outlet's alice")
	}
	if _, body, _ := shop.do(shopAlice, "GET", "/whoami", nil); body != "alice" {
		t.Fatal("theft detection on outlet signed alice out of shop")
	}

	// Revoke-all on outlet leaves shop alone.
	outlet.do(outletAlice, "POST", "/login?u=alice", nil)
	if n, err := outlet.m.RevokeUserSessions(ctx, "alice", ""); err != nil || n != 1 {
		t.Fatalf("outlet revoke-all: %d, %v; want its 1 session", n, err)
	}
	if _, body, _ := shop.do(shopAlice, "GET", "/whoami", nil); body != "alice" {
		t.Fatal("revoke-all on outlet signed alice out of shop")
	}
}

// With the cookie store, a user's "revoked before" time is per realm too.
func TestRealmCookieRevocationPerRealm(t *testing.T) {
	codec, err := cookie.New(cookie.Config{Keys: [][]byte{cookie.GenerateKey()}, Revocations: cookie.NewMemoryRevocations()})
	if err != nil {
		t.Fatal(err)
	}
	shop, outlet := twoSites(t, "shop", "outlet", session.Config{Codec: codec})
	a, b := shop.client(), outlet.client()
	shop.do(a, "POST", "/login?u=alice", nil)
	outlet.do(b, "POST", "/login?u=alice", nil)
	shop.clock.Advance(time.Second)
	if _, err := outlet.m.RevokeUserSessions(context.Background(), "alice", ""); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := outlet.do(b, "GET", "/whoami", nil); body != "" {
		t.Fatal("setup: outlet's revoke-all left its cookie valid")
	}
	if _, body, _ := shop.do(a, "GET", "/whoami", nil); body != "alice" {
		t.Fatal("revoke-all on outlet revoked alice's cookie on shop")
	}
}

func TestRealmConfig(t *testing.T) {
	for _, bad := range []string{"a\x00b", "tab\there", string(make([]byte, 256))} {
		_, err := session.New(session.Config{Store: newHarness(t, session.Config{}, nil).store, Realm: bad})
		var ce *session.ConfigError
		if !errors.As(err, &ce) || ce.Field != "Realm" {
			t.Fatalf("Realm %q: %v, want a ConfigError naming Realm", bad, err)
		}
	}
}

// A cookie Manager that cannot revoke is refused: logout would be a lie.
func TestCookieManagerWithoutRevocationRefused(t *testing.T) {
	codec, err := cookie.New(cookie.Config{Keys: [][]byte{cookie.GenerateKey()}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = session.New(session.Config{Codec: codec})
	var ce *session.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Codec" {
		t.Fatalf("session.New with a codec that cannot revoke: %v, want a ConfigError naming Codec", err)
	}
}

// Attack: a copy of a cookie-store session taken before logout, replayed
// after it. And "sign out everywhere else" keeps only the current cookie.
func TestCookieLogoutAndRevokeOthers(t *testing.T) {
	codec, err := cookie.New(cookie.Config{Keys: [][]byte{cookie.GenerateKey()}, Revocations: cookie.NewMemoryRevocations()})
	if err != nil {
		t.Fatal(err)
	}
	var h *harness
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /revoke-others", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if _, err := h.m.RevokeUserSessions(r.Context(), s.User(), s.Ref()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	h = newHarness(t, session.Config{Codec: codec, Realm: "shop"}, mux)
	c := h.client()
	h.do(c, "POST", "/login?u=alice", nil)
	copied := h.sid(c)
	h.do(c, "POST", "/logout", nil)
	if got := whoami(h, copied); got != "" {
		t.Fatalf("a cookie copied before logout is still signed in as %q", got)
	}

	// Cookies keep whole milliseconds: another cookie issued earlier in
	// the very millisecond of the revocation must die too, and the kept
	// session's new cookie must not.
	for _, gap := range []time.Duration{0, 300 * time.Microsecond, time.Millisecond, time.Second} {
		t.Run(fmt.Sprintf("issued %v before", gap), func(t *testing.T) {
			a, b := h.client(), h.client()
			h.do(a, "POST", "/login?u=alice", nil)
			h.do(b, "POST", "/login?u=alice", nil)
			h.clock.Advance(gap)
			if code, body, _ := h.do(a, "POST", "/revoke-others", nil); code != 200 {
				t.Fatalf("revoke others: %d %s", code, body)
			}
			if _, body, _ := h.do(b, "GET", "/whoami", nil); body != "" {
				t.Fatal("sign out everywhere else left another cookie of alice valid")
			}
			if _, body, _ := h.do(a, "GET", "/whoami", nil); body != "alice" {
				t.Fatal("sign out everywhere else signed out the current session too")
			}
			h.clock.Advance(time.Second)
		})
	}
}

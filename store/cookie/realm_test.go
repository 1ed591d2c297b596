package cookie_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
)

// Attack: a cookie of one site presented, under the same cookie name, to a
// site of another realm sharing the key ring. The realm is sealed in as
// associated data, so it does not open — with the same error as any other
// invalid cookie.
func TestCookieSealedWithItsRealm(t *testing.T) {
	ctx := context.Background()
	clk := testkit.NewClock(t0)
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now, Revocations: cookie.NewMemoryRevocations()})
	rec := typical()
	rec.Realm = "shop"
	v, err := c.Encode(ctx, "__Host-sid", rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Decode(ctx, "__Host-sid", "shop", v)
	if err != nil || got.Realm != "shop" || got.User != rec.User {
		t.Fatalf("the cookie does not open in its own realm: %v", err)
	}
	for _, realm := range []string{"outlet", "", "sho", "shop\x00"} {
		if got, err := c.Decode(ctx, "__Host-sid", realm, v); err != session.ErrNotFound || got != nil {
			t.Fatalf("a shop cookie in realm %q: %v, %v; want exactly session.ErrNotFound", realm, got, err)
		}
	}
	// A cookie of the empty realm does not open in a named one either.
	rec.Realm = ""
	plain, _ := c.Encode(ctx, "__Host-sid", rec)
	mustRefuseIn(t, c, "shop", plain)
}

func mustRefuseIn(t *testing.T, c *cookie.Codec, realm, value string) {
	t.Helper()
	if rec, err := c.Decode(context.Background(), "__Host-sid", realm, value); err != session.ErrNotFound || rec != nil {
		t.Fatalf("Decode in realm %q = %v, %v; want session.ErrNotFound", realm, rec, err)
	}
}

// A user's "revoked before" time belongs to one realm: alice of outlet is
// not alice of shop.
func TestRevokeUserPerRealm(t *testing.T) {
	ctx := context.Background()
	clk := testkit.NewClock(t0)
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now, Revocations: cookie.NewMemoryRevocations()})
	values := map[string]string{}
	for _, realm := range []string{"shop", "outlet", ""} {
		rec := typical()
		rec.Realm = realm
		v, err := c.Encode(ctx, "sid", rec)
		if err != nil {
			t.Fatal(err)
		}
		values[realm] = v
	}
	clk.Advance(time.Second)
	if err := c.RevokeUser(ctx, "outlet", typical().User, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decode(ctx, "sid", "outlet", values["outlet"]); err != session.ErrNotFound {
		t.Fatalf("revoked cookie in its realm: %v", err)
	}
	for _, realm := range []string{"shop", ""} {
		if _, err := c.Decode(ctx, "sid", realm, values[realm]); err != nil {
			t.Fatalf("revoking the user in outlet revoked realm %q: %v", realm, err)
		}
	}
	if c.CanRevoke() != true || newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}}).CanRevoke() {
		t.Fatal("CanRevoke does not say whether the codec has a revocation store")
	}
}

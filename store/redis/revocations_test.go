package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
	redisstore "github.com/sessiond/sessiond/store/redis"
)

func newRevocations(t *testing.T) *redisstore.Revocations {
	t.Helper()
	prefix := uniquePrefix()
	r, err := redisstore.NewRevocations(context.Background(), redisstore.RevocationsConfig{Client: sharedClient(t, prefix), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The cookie store's revocation list in Redis keeps the contract of
// cookie.Revocations: user times only move forward, rounded up to the
// millisecond; a Ref revocation is extended, never shortened, and ends by
// itself.
func TestRevocationsContract(t *testing.T) {
	ctx := context.Background()
	r := newRevocations(t)
	if got, err := r.RevokedBefore(ctx, "nobody"); err != nil || !got.IsZero() {
		t.Fatalf("unknown user: %v, %v", got, err)
	}
	t0 := time.UnixMilli(1_800_000_000_000).Add(300 * time.Microsecond)
	for _, tm := range []time.Time{t0, t0.Add(-time.Hour)} {
		if err := r.SetRevokedBefore(ctx, "alice", tm); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := r.RevokedBefore(ctx, "alice"); got.UnixMilli() != t0.UnixMilli()+1 {
		t.Fatalf("revoked before %v, want %v rounded up to the next millisecond (an earlier time must not move it back)", got, t0)
	}

	soon := time.Now().Add(400 * time.Millisecond)
	for _, until := range []time.Time{soon, soon.Add(-300 * time.Millisecond)} {
		if err := r.RevokeRef(ctx, "ref1", until); err != nil {
			t.Fatal(err)
		}
	}
	for _, until := range []time.Time{{}, soon} { // forever, then a time that must not shorten it
		if err := r.RevokeRef(ctx, "ref2", until); err != nil {
			t.Fatal(err)
		}
	}
	for _, ref := range []string{"ref1", "ref2"} {
		if revoked, err := r.RefRevoked(ctx, ref); err != nil || !revoked {
			t.Fatalf("%s: revoked %v, %v", ref, revoked, err)
		}
	}
	if revoked, _ := r.RefRevoked(ctx, "ref3"); revoked {
		t.Fatal("a Ref never revoked is revoked")
	}
	time.Sleep(time.Until(soon) + 150*time.Millisecond)
	if revoked, _ := r.RefRevoked(ctx, "ref1"); revoked {
		t.Fatal("a Ref revocation outlived its end (an earlier until shortened nothing, so it ends at the first)")
	}
	if revoked, _ := r.RefRevoked(ctx, "ref2"); !revoked {
		t.Fatal("a revocation for ever was shortened")
	}
}

// A cookie codec on the Redis list: logout (Revoke) and revoke-all
// (RevokeUser, per realm) through a shared server.
func TestRevocationsWithCookieCodec(t *testing.T) {
	ctx := context.Background()
	rev := newRevocations(t)
	codec, err := cookie.New(cookie.Config{Keys: [][]byte{cookie.GenerateKey()}, Revocations: rev})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := func(realm string) *session.Record {
		return &session.Record{Ref: token.Ref(), Realm: realm, User: "alice", Created: now, LastSeen: now, Saved: now,
			Rotated: now, Expires: now.Add(time.Hour), Version: 1}
	}
	a, b, c := rec("shop"), rec("shop"), rec("outlet")
	va, _ := codec.Encode(ctx, "__Host-sid", a)
	vb, _ := codec.Encode(ctx, "__Host-sid", b)
	vc, _ := codec.Encode(ctx, "__Host-sid", c)
	if err := codec.Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Decode(ctx, "__Host-sid", "shop", va); err != session.ErrNotFound {
		t.Fatalf("a revoked cookie decodes: %v", err)
	}
	if err := codec.RevokeUser(ctx, "shop", "alice", now.Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Decode(ctx, "__Host-sid", "shop", vb); err != session.ErrNotFound {
		t.Fatalf("a cookie of a revoked user decodes: %v", err)
	}
	if _, err := codec.Decode(ctx, "__Host-sid", "outlet", vc); err != nil {
		t.Fatalf("revoking alice on shop revoked alice on outlet: %v", err)
	}
}

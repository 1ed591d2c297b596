package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessiond/sessiond/remember"
	rememberstoretest "github.com/sessiond/sessiond/remember/storetest"
	"github.com/sessiond/sessiond/store/sqlite"
)

// The remember-me keys a store hands out keep remember.Store's contract.
func TestRememberConformance(t *testing.T) {
	rememberstoretest.Run(t, func(t *testing.T) remember.Store {
		r, err := newStore(t, sqlite.Config{}).Remember(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}

// Every companion of one file shares it with the sessions: a revocation,
// a claim and a remember-me key made through one handle are seen through
// another handle on the file (another gateway process).
func TestCompanionsShareTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kit.db")
	a, b := newStore(t, sqlite.Config{Path: path}), newStore(t, sqlite.Config{Path: path})
	ra, err := a.Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ra.RevokeRef(ctx, "ref1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if revoked, err := rb.RefRevoked(ctx, "ref1"); err != nil || !revoked {
		t.Fatalf("revocation seen by the other handle: %v, %v", revoked, err)
	}
	if first, err := a.Claim(ctx, "k", time.Now().Add(time.Hour)); err != nil || !first {
		t.Fatalf("claim: %v, %v", first, err)
	}
	if first, err := b.Claim(ctx, "k", time.Now().Add(time.Hour)); err != nil || first {
		t.Fatalf("replayed claim at the other handle: %v, %v", first, err)
	}
	rma, err := a.Remember(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rmb, err := b.Remember(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := rememberstoretest.Rec("alice", time.Now(), time.Hour)
	if err := rma.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, err := rmb.Lookup(ctx, rec.Selector); err != nil || got.User != "alice" {
		t.Fatalf("remember-me key at the other handle: %+v, %v", got, err)
	}
}

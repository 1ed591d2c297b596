package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// StateStore is a store's small state beside its sessions, as the gateway
// uses it (gateway.State): one-time claims and named secrets.
type StateStore interface {
	Claim(ctx context.Context, key string, until time.Time) (first bool, err error)
	ClaimedUntil(ctx context.Context, key string) (time.Time, error)
	Secret(ctx context.Context, label string) ([]byte, error)
}

// State is the conformance suite for a StateStore. newPlace makes a fresh,
// isolated place (a file, a schema, a key prefix) and returns open, which
// returns a new handle on that place at each call — another gateway on
// the same store (an in-process store may return itself).
func State(t *testing.T, newPlace func(t *testing.T) (open func(t *testing.T) StateStore)) {
	ctx := context.Background()
	hour := time.Now().Add(time.Hour)

	t.Run("FirstClaimOnly", func(t *testing.T) {
		st := newPlace(t)(t)
		for i, want := range []bool{true, false, false} {
			first, err := st.Claim(ctx, "k", hour)
			if err != nil || first != want {
				t.Fatalf("claim %d = %v, %v; want %v, nil", i+1, first, err, want)
			}
		}
		if first, err := st.Claim(ctx, "other", hour); err != nil || !first {
			t.Fatalf("claim of another key = %v, %v; want true, nil", first, err)
		}
	})

	t.Run("ClaimSeenByAnotherHandle", func(t *testing.T) {
		open := newPlace(t)
		a, b := open(t), open(t)
		if first, err := a.Claim(ctx, "modcrypto:abc", hour); err != nil || !first {
			t.Fatalf("first claim = %v, %v", first, err)
		}
		if first, err := b.Claim(ctx, "modcrypto:abc", hour); err != nil || first {
			t.Fatalf("replay at another handle = %v, %v; want false, nil", first, err)
		}
	})

	t.Run("ConcurrentClaimsOneWinner", func(t *testing.T) {
		open := newPlace(t)
		handles := []StateStore{open(t), open(t), open(t)}
		for round := range 5 {
			key := fmt.Sprintf("race-%d", round)
			var wins atomic.Int32
			var wg sync.WaitGroup
			errs := make(chan error, 24)
			for i := range 24 {
				wg.Go(func() {
					first, err := handles[i%len(handles)].Claim(ctx, key, hour)
					if err != nil {
						errs <- err
					}
					if first {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("claim: %v", err)
			}
			if n := wins.Load(); n != 1 {
				t.Fatalf("round %d: %d claims were first; want exactly 1", round, n)
			}
		}
	})

	t.Run("EndedClaimIsFirstAgain", func(t *testing.T) {
		st := newPlace(t)(t)
		if first, err := st.Claim(ctx, "short", time.Now().Add(150*time.Millisecond)); err != nil || !first {
			t.Fatalf("first claim = %v, %v", first, err)
		}
		if first, err := st.Claim(ctx, "short", hour); err != nil || first {
			t.Fatalf("claim before the end = %v, %v; want false, nil", first, err)
		}
		time.Sleep(300 * time.Millisecond)
		if first, err := st.Claim(ctx, "short", hour); err != nil || !first {
			t.Fatalf("claim after the end = %v, %v; want true, nil", first, err)
		}
	})

	t.Run("ClaimedUntilReadsWithoutClaiming", func(t *testing.T) {
		open := newPlace(t)
		a, b := open(t), open(t)
		if until, err := b.ClaimedUntil(ctx, "logout:sid"); err != nil || !until.IsZero() {
			t.Fatalf("ClaimedUntil of an unclaimed key = %v, %v; want zero, nil", until, err)
		}
		// Reading claims nothing: the first claim is still first.
		if first, err := a.Claim(ctx, "logout:sid", hour); err != nil || !first {
			t.Fatalf("claim after a read = %v, %v; want true, nil", first, err)
		}
		until, err := b.ClaimedUntil(ctx, "logout:sid")
		if err != nil || until.Sub(hour).Abs() > 5*time.Millisecond {
			t.Fatalf("ClaimedUntil at another handle = %v, %v; want %v", until, err, hour)
		}
		if _, err := a.Claim(ctx, "logout:short", time.Now().Add(150*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if until, err := b.ClaimedUntil(ctx, "logout:short"); err != nil || !until.IsZero() {
			t.Fatalf("ClaimedUntil of an ended claim = %v, %v; want zero, nil", until, err)
		}
	})

	t.Run("SecretStableAndShared", func(t *testing.T) {
		open := newPlace(t)
		a, b := open(t), open(t)
		s1, err := a.Secret(ctx, "device-cookie")
		if err != nil || len(s1) != 32 {
			t.Fatalf("Secret = %x, %v; want 32 bytes", s1, err)
		}
		if bytes.Equal(s1, make([]byte, 32)) {
			t.Fatal("Secret is all zero bytes")
		}
		for name, st := range map[string]StateStore{"same handle": a, "another handle": b} {
			s2, err := st.Secret(ctx, "device-cookie")
			if err != nil || !bytes.Equal(s1, s2) {
				t.Fatalf("%s: Secret again = %x, %v; want %x", name, s2, err, s1)
			}
		}
		s3, err := b.Secret(ctx, "other")
		if err != nil || len(s3) != 32 || bytes.Equal(s1, s3) {
			t.Fatalf("Secret of another label = %x, %v; want 32 other bytes", s3, err)
		}
		// The caller's copy is its own.
		s1[0] ^= 0xff
		if s4, _ := a.Secret(ctx, "device-cookie"); bytes.Equal(s1, s4) {
			t.Fatal("changing a returned secret changed the stored one")
		}
	})

	t.Run("SecretConcurrentFirstUse", func(t *testing.T) {
		open := newPlace(t)
		handles := []StateStore{open(t), open(t), open(t)}
		got := make([][]byte, 12)
		var wg sync.WaitGroup
		for i := range got {
			wg.Go(func() {
				b, err := handles[i%len(handles)].Secret(ctx, "raced")
				if err != nil {
					t.Errorf("Secret: %v", err)
				}
				got[i] = b
			})
		}
		wg.Wait()
		for i, b := range got {
			if len(b) != 32 || !bytes.Equal(b, got[0]) {
				t.Fatalf("secret %d = %x; want every caller to get %x", i, b, got[0])
			}
		}
	})
}

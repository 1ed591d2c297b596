// Package storetest is the conformance suite for remember.Store. Every
// implementation runs it against a real backend (memory, SQLite,
// PostgreSQL), never a mock.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/remember"
)

// Run runs the suite. open returns a new, empty store for each subtest and
// arranges its cleanup with t.Cleanup. Stores must keep times to at least
// microsecond precision.
func Run(t *testing.T, open func(t *testing.T) remember.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)

	t.Run("create and lookup round trip", func(t *testing.T) {
		s := open(t)
		rec := Rec("alice", now, time.Hour)
		if err := s.Create(ctx, rec); err != nil {
			t.Fatalf("Create: %v", err)
		}
		got, err := s.Lookup(ctx, rec.Selector)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		same(t, got, rec)
		if got.Used() {
			t.Fatal("a new key is already used")
		}
	})

	t.Run("create collision", func(t *testing.T) {
		s := open(t)
		rec := Rec("alice", now, time.Hour)
		mustCreate(t, s, rec)
		dup := Rec("mallory", now, time.Hour)
		dup.Selector = rec.Selector
		if err := s.Create(ctx, dup); !errors.Is(err, remember.ErrCollision) {
			t.Fatalf("Create with a taken selector: %v, want ErrCollision", err)
		}
		got, _ := s.Lookup(ctx, rec.Selector)
		same(t, got, rec)
	})

	t.Run("lookup unknown and hostile selectors", func(t *testing.T) {
		s := open(t)
		mustCreate(t, s, Rec("alice", now, time.Hour))
		for _, sel := range []string{"", Rec("x", now, time.Hour).Selector, "../../etc/passwd", "a\x00b", "\xff\xfe", strings.Repeat("A", 16<<10), "' OR 1=1 --"} {
			if _, err := s.Lookup(ctx, sel); !errors.Is(err, remember.ErrNotFound) {
				t.Errorf("Lookup(%.20q): %v, want ErrNotFound", sel, err)
			}
		}
	})

	t.Run("consume marks used and stores next", func(t *testing.T) {
		s := open(t)
		old := Rec("alice", now, time.Hour)
		mustCreate(t, s, old)
		next := Rec("alice", now, time.Hour)
		used := now.Add(time.Second)
		if err := s.Consume(ctx, old.Selector, used, next); err != nil {
			t.Fatalf("Consume: %v", err)
		}
		got, err := s.Lookup(ctx, old.Selector)
		if err != nil || !got.UsedAt.Equal(used) {
			t.Fatalf("old key after Consume: %+v, %v; want UsedAt %v", got, err, used)
		}
		got, err = s.Lookup(ctx, next.Selector)
		if err != nil {
			t.Fatalf("next key: %v", err)
		}
		same(t, got, next)

		// A second use changes nothing.
		again := Rec("alice", now, time.Hour)
		if err := s.Consume(ctx, old.Selector, used.Add(time.Second), again); !errors.Is(err, remember.ErrAlreadyUsed) {
			t.Fatalf("second Consume: %v, want ErrAlreadyUsed", err)
		}
		if _, err := s.Lookup(ctx, again.Selector); !errors.Is(err, remember.ErrNotFound) {
			t.Fatalf("a refused Consume stored its next key: %v", err)
		}
		if got, _ := s.Lookup(ctx, old.Selector); !got.UsedAt.Equal(used) {
			t.Fatalf("a refused Consume moved UsedAt to %v", got.UsedAt)
		}
	})

	t.Run("consume refusals change nothing", func(t *testing.T) {
		s := open(t)
		old := Rec("alice", now, time.Hour)
		taken := Rec("alice", now, time.Hour)
		mustCreate(t, s, old)
		mustCreate(t, s, taken)
		tests := []struct {
			name string
			sel  string
			next remember.Record
			want error // nil: any error
		}{
			{"unknown key", Rec("x", now, time.Hour).Selector, Rec("alice", now, time.Hour), remember.ErrNotFound},
			{"next selector taken", old.Selector, withSelector(Rec("alice", now, time.Hour), taken.Selector), remember.ErrCollision},
			{"next for another user", old.Selector, Rec("mallory", now, time.Hour), nil},
			{"next in another realm", old.Selector, inRealm(Rec("alice", now, time.Hour), "other"), nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := s.Consume(ctx, tc.sel, now, tc.next)
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
					t.Fatalf("Consume: %v, want %v", err, tc.want)
				}
				if got, _ := s.Lookup(ctx, old.Selector); got.Used() {
					t.Fatal("the old key was marked used by a refused Consume")
				}
				if tc.next.Selector != taken.Selector {
					if _, err := s.Lookup(ctx, tc.next.Selector); !errors.Is(err, remember.ErrNotFound) {
						t.Fatalf("a refused Consume stored its next key: %v", err)
					}
				}
			})
		}
	})

	t.Run("concurrent consume: exactly one wins", func(t *testing.T) {
		s := open(t)
		old := Rec("alice", now, time.Hour)
		mustCreate(t, s, old)
		const n = 16
		nexts := make([]remember.Record, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			nexts[i] = Rec("alice", now, time.Hour)
			wg.Go(func() {
				<-start
				errs[i] = s.Consume(ctx, old.Selector, now, nexts[i])
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, err := range errs {
			_, lookErr := s.Lookup(ctx, nexts[i].Selector)
			switch {
			case err == nil:
				wins++
				if lookErr != nil {
					t.Errorf("winner's next key missing: %v", lookErr)
				}
			case errors.Is(err, remember.ErrAlreadyUsed):
				if lookErr == nil {
					t.Errorf("loser %d's next key was stored", i)
				}
			default:
				t.Errorf("Consume %d: %v, want nil or ErrAlreadyUsed", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d of %d concurrent Consume calls won, want exactly 1", wins, n)
		}
	})

	t.Run("delete one key", func(t *testing.T) {
		s := open(t)
		a, b := Rec("alice", now, time.Hour), Rec("alice", now, time.Hour)
		mustCreate(t, s, a)
		mustCreate(t, s, b)
		if err := s.Delete(ctx, a.Selector); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, a.Selector); err != nil {
			t.Fatalf("deleting an absent key: %v", err)
		}
		if _, err := s.Lookup(ctx, a.Selector); !errors.Is(err, remember.ErrNotFound) {
			t.Fatalf("deleted key: %v", err)
		}
		if _, err := s.Lookup(ctx, b.Selector); err != nil {
			t.Fatalf("the other key: %v", err)
		}
	})

	t.Run("delete user", func(t *testing.T) {
		s := open(t)
		a1, a2, bob := Rec("alice", now, time.Hour), Rec("alice", now, time.Hour), Rec("bob", now, time.Hour)
		for _, r := range []remember.Record{a1, a2, bob} {
			mustCreate(t, s, r)
		}
		a3 := Rec("alice", now, time.Hour)
		if err := s.Consume(ctx, a1.Selector, now, a3); err != nil { // a used key counts too
			t.Fatal(err)
		}
		elsewhere := inRealm(Rec("alice", now, time.Hour), "other") // another site's alice
		mustCreate(t, s, elsewhere)
		n, err := s.DeleteUser(ctx, Realm, "alice")
		if err != nil || n != 3 {
			t.Fatalf("DeleteUser = %d, %v; want 3", n, err)
		}
		for _, r := range []remember.Record{a1, a2, a3} {
			if _, err := s.Lookup(ctx, r.Selector); !errors.Is(err, remember.ErrNotFound) {
				t.Errorf("alice's key survived DeleteUser: %v", err)
			}
		}
		if _, err := s.Lookup(ctx, bob.Selector); err != nil {
			t.Fatalf("bob's key: %v", err)
		}
		if got, err := s.Lookup(ctx, elsewhere.Selector); err != nil || got.Realm != "other" {
			t.Fatalf("alice's key in another realm: %+v, %v (want it kept)", got, err)
		}
		if n, err := s.DeleteUser(ctx, Realm, "nobody"); err != nil || n != 0 {
			t.Fatalf("DeleteUser(nobody) = %d, %v", n, err)
		}
	})

	t.Run("gc", func(t *testing.T) {
		s := open(t)
		dead := Rec("alice", now.Add(-2*time.Hour), time.Hour)
		live := Rec("alice", now, time.Hour)
		usedLive := Rec("alice", now, time.Hour)
		for _, r := range []remember.Record{dead, live, usedLive} {
			mustCreate(t, s, r)
		}
		if err := s.Consume(ctx, usedLive.Selector, now, Rec("alice", now, time.Hour)); err != nil {
			t.Fatal(err)
		}
		n, err := s.GC(ctx, now)
		if err != nil || n != 1 {
			t.Fatalf("GC = %d, %v; want 1", n, err)
		}
		if _, err := s.Lookup(ctx, dead.Selector); !errors.Is(err, remember.ErrNotFound) {
			t.Fatalf("expired key survived GC: %v", err)
		}
		for _, r := range []remember.Record{live, usedLive} {
			if _, err := s.Lookup(ctx, r.Selector); err != nil {
				t.Fatalf("GC removed a live key (a used one must stay for reuse detection): %v", err)
			}
		}
	})
}

// Realm is the realm of Rec's records.
const Realm = "shop"

// Rec returns a record of user in Realm with a fresh random selector and
// validator hash, created at created and expiring ttl later.
func Rec(user string, created time.Time, ttl time.Duration) remember.Record {
	var sel [16]byte
	var val [32]byte
	_, _ = rand.Read(sel[:])
	_, _ = rand.Read(val[:])
	return remember.Record{
		Selector: base64.RawURLEncoding.EncodeToString(sel[:]),
		Hash:     sha256.Sum256(val[:]),
		Realm:    Realm,
		User:     user,
		Created:  created,
		Expires:  created.Add(ttl),
	}
}

func inRealm(r remember.Record, realm string) remember.Record {
	r.Realm = realm
	return r
}

func withSelector(r remember.Record, sel string) remember.Record {
	r.Selector = sel
	return r
}

func mustCreate(t *testing.T, s remember.Store, r remember.Record) {
	t.Helper()
	if err := s.Create(context.Background(), r); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

func same(t *testing.T, got, want remember.Record) {
	t.Helper()
	if got.Selector != want.Selector || got.Hash != want.Hash || got.Realm != want.Realm || got.User != want.User ||
		!got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) || !got.UsedAt.Equal(want.UsedAt) {
		t.Fatalf("record = %+v\nwant %+v", got, want)
	}
}

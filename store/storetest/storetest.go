// Package storetest is the conformance suite for session.Store. Every
// backend runs it in one line against a real server:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) session.Store { return newStore(t) })
//	}
//
// newStore must return an empty store (or one whose existing records cannot
// collide: the suite draws fresh random IDs and refs). The suite never
// mocks time: records carry absolute Expires times and GC is called with an
// explicit now.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
)

// SetChange returns the change set of a request that loaded base and set
// key k to v: a merge on base's version, keeping its IDs and user.
func SetChange(base *session.Record, k, v string) *session.Change {
	c := &session.Change{Base: base, Set: map[string]string{k: v}}
	c.Next = base.Clone()
	c.Next.Data, _ = c.MergeData(base.Data)
	c.Next.Version = base.Version + 1
	return c
}

// NewRecord returns a fresh record with a random ref and ID, version 1,
// expiring in an hour (wall clock).
func NewRecord() *session.Record {
	_, h := token.New()
	now := time.Now().Truncate(time.Microsecond)
	return &session.Record{
		Ref:      token.Ref(),
		ID:       h,
		Data:     map[string]string{"k": "v"},
		Created:  now,
		LastSeen: now,
		Saved:    now,
		Rotated:  now,
		Expires:  now.Add(time.Hour),
		Version:  1,
	}
}

func newHash() session.Hash {
	_, h := token.New()
	return h
}

var recordCmp = cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(time.Microsecond)}

func mustEqual(t *testing.T, want, got *session.Record) {
	t.Helper()
	if diff := cmp.Diff(want, got, recordCmp); diff != "" {
		t.Fatalf("record differs (-want +got):\n%s", diff)
	}
}

func mustNotFound(t *testing.T, s session.Store, h session.Hash) {
	t.Helper()
	r, err := s.Load(context.Background(), h)
	if !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load = %v, %v; want ErrNotFound", r, err)
	}
}

func mustLoad(t *testing.T, s session.Store, h session.Hash) *session.Record {
	t.Helper()
	r, err := s.Load(context.Background(), h)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}

// Run runs the whole suite. newStore is called once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	ctx := context.Background()
	tests := []struct {
		name string
		fn   func(t *testing.T, s session.Store)
	}{
		{"CreateLoadRoundTrip", func(t *testing.T, s session.Store) {
			r := NewRecord()
			r.SecureID = newHash()
			r.User = "alice"
			r.Realm = "shop" // the realm is kept: a Manager refuses a record of another realm
			r.IP, r.UserAgent = "192.0.2.1", "Mozilla/5.0 (X11)"
			r.Data = map[string]string{"": "empty key", "nul": "a\x00b", "utf8": "Zoë", "enc": "a=b&c=%zz"}
			r.Sealed = []byte{0, 1, 2, 255}
			r.SecureSeen = r.Created
			r.Generation, r.Requests = 3, 7
			r.Aliases = []session.Alias{{Hash: newHash(), Until: r.Created.Add(30 * time.Second), Next: []byte("sealed"), Generation: 2}}
			want := r.Clone()
			if err := s.Create(ctx, r); err != nil {
				t.Fatalf("Create: %v", err)
			}
			for i, h := range want.Hashes() {
				t.Run(fmt.Sprint("hash", i), func(t *testing.T) { mustEqual(t, want, mustLoad(t, s, h)) })
			}
		}},
		{"UnknownIsNotFound", func(t *testing.T, s session.Store) {
			mustNotFound(t, s, newHash())
			mustNotFound(t, s, session.Hash{})
		}},
		{"CollisionOnRef", func(t *testing.T, s session.Store) {
			a := NewRecord()
			if err := s.Create(ctx, a); err != nil {
				t.Fatal(err)
			}
			b := NewRecord()
			b.Ref = a.Ref
			if err := s.Create(ctx, b); !errors.Is(err, session.ErrCollision) {
				t.Fatalf("Create with taken ref = %v, want ErrCollision", err)
			}
			mustNotFound(t, s, b.ID)
			if got := mustLoad(t, s, a.ID); got.Data["k"] != "v" {
				t.Fatal("first record damaged by the collision")
			}
		}},
		{"CollisionOnHash", func(t *testing.T, s session.Store) {
			a := NewRecord()
			a.SecureID = newHash()
			a.Aliases = []session.Alias{{Hash: newHash(), Until: time.Now()}}
			if err := s.Create(ctx, a); err != nil {
				t.Fatal(err)
			}
			for i, h := range []session.Hash{a.ID, a.SecureID, a.Aliases[0].Hash} {
				b := NewRecord()
				b.Data = map[string]string{"owner": "b"}
				switch i {
				case 0:
					b.ID = h
				case 1:
					b.SecureID = h
				case 2:
					b.Aliases = []session.Alias{{Hash: h}}
				}
				if err := s.Create(ctx, b); !errors.Is(err, session.ErrCollision) {
					t.Fatalf("Create reusing hash %d = %v, want ErrCollision", i, err)
				}
				if got := mustLoad(t, s, h); got.Ref != a.Ref {
					t.Fatalf("hash %d now names another record", i)
				}
				if b.ID != h {
					mustNotFound(t, s, b.ID)
				}
			}
		}},
		{"UpdateCAS", func(t *testing.T, s session.Store) {
			r := NewRecord()
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			next := r.Clone()
			next.Version = 2
			next.Data = map[string]string{"k": "v2"}
			if err := s.Update(ctx, next, 1); err != nil {
				t.Fatalf("Update at the right version: %v", err)
			}
			stale := r.Clone()
			stale.Version = 2
			stale.Data = map[string]string{"k": "stale"}
			if err := s.Update(ctx, stale, 1); !errors.Is(err, session.ErrConflict) {
				t.Fatalf("Update at a stale version = %v, want ErrConflict", err)
			}
			got := mustLoad(t, s, r.ID)
			if got.Version != 2 || got.Data["k"] != "v2" {
				t.Fatalf("after stale update: version %d data %v; want 2, v2", got.Version, got.Data)
			}
			gone := NewRecord()
			gone.Version = 2
			if err := s.Update(ctx, gone, 1); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Update of a missing record = %v, want ErrNotFound", err)
			}
		}},
		{"UpdateMovesIDIndex", func(t *testing.T, s session.Store) {
			r := NewRecord()
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			old := r.ID
			next := r.Clone()
			next.Version = 2
			next.ID = newHash()
			next.SecureID = newHash()
			next.Aliases = []session.Alias{{Hash: old, Until: time.Now().Add(time.Minute).Truncate(time.Microsecond)}}
			if err := s.Update(ctx, next, 1); err != nil {
				t.Fatal(err)
			}
			for _, h := range []session.Hash{old, next.ID, next.SecureID} {
				if got := mustLoad(t, s, h); got.Ref != r.Ref || got.Version != 2 {
					t.Fatalf("hash does not name the updated record")
				}
			}
			// Drop the alias and the secure ID: they must stop naming it.
			third := next.Clone()
			third.Version = 3
			third.Aliases = nil
			third.SecureID = session.Hash{}
			if err := s.Update(ctx, third, 2); err != nil {
				t.Fatal(err)
			}
			mustNotFound(t, s, old)
			mustNotFound(t, s, next.SecureID)
			mustLoad(t, s, third.ID)
		}},
		{"UpdateHashCollision", func(t *testing.T, s session.Store) {
			a, b := NewRecord(), NewRecord()
			for _, r := range []*session.Record{a, b} {
				if err := s.Create(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			next := b.Clone()
			next.Version = 2
			next.SecureID = a.ID
			if err := s.Update(ctx, next, 1); !errors.Is(err, session.ErrCollision) {
				t.Fatalf("Update taking another record's hash = %v, want ErrCollision", err)
			}
			if got := mustLoad(t, s, a.ID); got.Ref != a.Ref {
				t.Fatal("hash stolen by the failed update")
			}
			if got := mustLoad(t, s, b.ID); got.Version != 1 {
				t.Fatalf("failed update was applied: version %d", got.Version)
			}
		}},
		{"Delete", func(t *testing.T, s session.Store) {
			r := NewRecord()
			r.User = "bob"
			r.SecureID = newHash()
			r.Aliases = []session.Alias{{Hash: newHash()}}
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, r.Ref); err != nil {
				t.Fatal(err)
			}
			for _, h := range r.Hashes() {
				mustNotFound(t, s, h)
			}
			if list, err := s.ListUser(ctx, "bob"); err != nil || len(list) != 0 {
				t.Fatalf("ListUser after Delete = %d records, %v", len(list), err)
			}
			if err := s.Delete(ctx, r.Ref); err != nil {
				t.Fatalf("second Delete = %v, want nil", err)
			}
			// The hashes are free again.
			again := NewRecord()
			again.ID = r.ID
			if err := s.Create(ctx, again); err != nil {
				t.Fatalf("re-using a deleted record's hash: %v", err)
			}
		}},
		{"UserIndex", func(t *testing.T, s session.Store) {
			user := "carol-" + token.Ref()
			var refs []string
			for range 3 {
				r := NewRecord()
				r.User = user
				if err := s.Create(ctx, r); err != nil {
					t.Fatal(err)
				}
				refs = append(refs, r.Ref)
			}
			other := NewRecord()
			other.User = "dave-" + token.Ref()
			if err := s.Create(ctx, other); err != nil {
				t.Fatal(err)
			}
			anon := NewRecord()
			if err := s.Create(ctx, anon); err != nil {
				t.Fatal(err)
			}
			list := func(u string) []string {
				t.Helper()
				rs, err := s.ListUser(ctx, u)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, r := range rs {
					if r.User != u {
						t.Fatalf("ListUser(%q) returned a record of %q", u, r.User)
					}
					out = append(out, r.Ref)
				}
				slices.Sort(out)
				return out
			}
			want := slices.Clone(refs)
			slices.Sort(want)
			if diff := cmp.Diff(want, list(user)); diff != "" {
				t.Fatalf("ListUser (-want +got):\n%s", diff)
			}
			// Log in: the anonymous record gains the user.
			loggedIn := mustLoad(t, s, anon.ID).Clone()
			loggedIn.User, loggedIn.Version = user, 2
			if err := s.Update(ctx, loggedIn, 1); err != nil {
				t.Fatal(err)
			}
			if got := list(user); len(got) != 4 {
				t.Fatalf("after login ListUser has %d records, want 4", len(got))
			}
			// Log out: the user leaves the record.
			out := loggedIn.Clone()
			out.User, out.Version = "", 3
			if err := s.Update(ctx, out, 2); err != nil {
				t.Fatal(err)
			}
			if got := list(user); len(got) != 3 {
				t.Fatalf("after logout ListUser has %d records, want 3", len(got))
			}
			if got := list("nobody-" + token.Ref()); len(got) != 0 {
				t.Fatalf("unknown user has %d records", len(got))
			}
		}},
		{"GC", func(t *testing.T, s session.Store) {
			now := time.Now().Truncate(time.Microsecond)
			user := "gc-" + token.Ref()
			expired, live, forever := NewRecord(), NewRecord(), NewRecord()
			expired.Expires = now.Add(2 * time.Second)
			expired.User = user
			expired.Aliases = []session.Alias{{Hash: newHash()}}
			live.Expires = now.Add(time.Hour)
			live.User = user
			forever.Expires = time.Time{}
			for _, r := range []*session.Record{expired, live, forever} {
				if err := s.Create(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.GC(ctx, now.Add(time.Minute))
			if err != nil {
				t.Fatalf("GC: %v", err)
			}
			if n < 1 {
				t.Fatalf("GC reported %d deleted, want at least 1", n)
			}
			mustNotFound(t, s, expired.ID)
			mustNotFound(t, s, expired.Aliases[0].Hash)
			mustLoad(t, s, live.ID)
			mustLoad(t, s, forever.ID)
			rs, err := s.ListUser(ctx, user)
			if err != nil || len(rs) != 1 || rs[0].Ref != live.Ref {
				t.Fatalf("ListUser after GC = %d records, %v; want only the live one", len(rs), err)
			}
		}},
		{"ConcurrentCAS", func(t *testing.T, s session.Store) {
			// 20 writers each add their own key with load/CAS/retry: every
			// key must survive (no lost update).
			r := NewRecord()
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			const writers = 20
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for i := range writers {
				wg.Go(func() {
					for {
						cur, err := s.Load(ctx, r.ID)
						if err != nil {
							errs <- err
							return
						}
						next := cur.Clone()
						next.Data[fmt.Sprint("w", i)] = "x"
						next.Version = cur.Version + 1
						err = s.Update(ctx, next, cur.Version)
						if errors.Is(err, session.ErrConflict) {
							continue
						}
						if err != nil {
							errs <- err
						}
						return
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			got := mustLoad(t, s, r.ID)
			if len(got.Data) != writers+1 || got.Version != writers+1 {
				t.Fatalf("after %d CAS writers: %d keys, version %d", writers, len(got.Data), got.Version)
			}
		}},
		{"ConcurrentCreate", func(t *testing.T, s session.Store) {
			// Many creators racing for the same hash: exactly one wins.
			h := newHash()
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			for range 10 {
				wg.Go(func() {
					r := NewRecord()
					r.ID = h
					err := s.Create(ctx, r)
					if err == nil {
						mu.Lock()
						wins++
						mu.Unlock()
					} else if !errors.Is(err, session.ErrCollision) {
						t.Errorf("Create: %v", err)
					}
				})
			}
			wg.Wait()
			if wins != 1 {
				t.Fatalf("%d creators won the same hash, want exactly 1", wins)
			}
		}},
		{"LoadedRecordIsACopy", func(t *testing.T, s session.Store) {
			// What Create was given is the store's; what the caller changes
			// in a clone of a loaded record is not visible until Update.
			r := NewRecord()
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			c := mustLoad(t, s, r.ID).Clone()
			c.Data["k"] = "changed"
			if got := mustLoad(t, s, r.ID); got.Data["k"] != "v" {
				t.Fatal("a change to a clone leaked into the store")
			}
		}},
	}
	tests = append(tests, mergeTests(ctx)...)
	tests = append(tests, struct {
		name string
		fn   func(t *testing.T, s session.Store)
	}{"Expiry", func(t *testing.T, s session.Store) { Expiry(t, session.Config{Store: s}) }})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

package redis_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/storetest"
)

// TestCluster starts a 3-master Redis Cluster of its own on loopback and
// runs the store against a *goredis.ClusterClient: the conformance suite,
// the slot layout, the GC across masters, locks, and the round trips of
// the Cluster protocol.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three redis-server processes")
	}
	addrs := startCluster(t)
	newClient := func(t testing.TB) *goredis.ClusterClient {
		c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
		t.Cleanup(func() { c.Close() })
		return c
	}
	newClusterStore := func(t testing.TB) (*redis.Store, *goredis.ClusterClient, string) {
		c := newClient(t)
		prefix := uniquePrefix()
		t.Cleanup(func() { deleteKeys(t, c, prefix) })
		s, err := redis.New(redis.Config{Client: c, Prefix: prefix}) // Cluster implied by the client type
		if err != nil {
			t.Fatal(err)
		}
		return s, c, prefix
	}
	ctx := context.Background()

	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) session.Store {
			s, _, _ := newClusterStore(t)
			return s
		})
	})

	// Keys that must move together share a slot: a record and its lock
	// (one hash tag {ref}), whatever the ref looks like.
	t.Run("SlotsOfARecord", func(t *testing.T) {
		s, c, prefix := newClusterStore(t)
		for _, tc := range []struct{ name, ref string }{
			{"random", token.Ref()},
			{"short", "r1"},
			{"closing brace inside", "ab}cd"},
			{"opening brace inside", "x{y"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rec := storetest.NewRecord()
				rec.Ref, rec.User = tc.ref, "slot-user"
				must(t, s.Create(ctx, rec))
				unlock, err := s.Lock(ctx, rec.Ref)
				must(t, err)
				defer unlock()
				rk, lk := prefix+"{"+tc.ref+"}:r", prefix+"{"+tc.ref+"}:l"
				for _, k := range []string{rk, lk} {
					if n := c.Exists(ctx, k).Val(); n != 1 {
						t.Fatalf("key %q does not exist: the layout changed", k)
					}
				}
				rs, err := c.ClusterKeySlot(ctx, rk).Result()
				must(t, err)
				ls, err := c.ClusterKeySlot(ctx, lk).Result()
				must(t, err)
				if rs != ls {
					t.Fatalf("record key in slot %d, its lock in slot %d", rs, ls)
				}
				got, err := s.Load(ctx, rec.ID)
				if err != nil || got.Ref != tc.ref {
					t.Fatalf("Load = %v, %v", got, err)
				}
			})
		}
	})

	// Records spread over the three masters; one GC call must find the
	// expired ones on every master.
	t.Run("GCEveryMaster", func(t *testing.T) {
		s, c, prefix := newClusterStore(t)
		now := time.Now()
		var expired []*session.Record
		slots := map[int64]bool{}
		for i := range 30 {
			r := storetest.NewRecord()
			r.User = fmt.Sprint("gc-user-", i%3)
			if i%2 == 0 {
				r.Expires = now.Add(2 * time.Second)
				expired = append(expired, r)
			}
			must(t, s.Create(ctx, r))
			slot, err := c.ClusterKeySlot(ctx, prefix+"{"+r.Ref+"}:r").Result()
			must(t, err)
			slots[slot/5462] = true // 16384 slots over 3 masters
		}
		if len(slots) < 2 {
			t.Fatalf("30 records landed on %d master(s); the test needs a spread", len(slots))
		}
		n, err := s.GC(ctx, now.Add(time.Minute))
		if err != nil || n != len(expired) {
			t.Fatalf("GC = %d, %v; want %d", n, err, len(expired))
		}
		for _, r := range expired {
			if _, err := s.Load(ctx, r.ID); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("expired record still loads: %v", err)
			}
			if n := c.Exists(ctx, prefix+"i:"+r.ID.Hex()).Val(); n != 0 {
				t.Fatal("GC left an expired record's ID key behind")
			}
		}
		total := 0
		for u := range 3 {
			rs, err := s.ListUser(ctx, fmt.Sprint("gc-user-", u))
			must(t, err)
			total += len(rs)
		}
		if total != 30-len(expired) {
			t.Fatalf("ListUser over all users = %d records, want %d", total, 30-len(expired))
		}
	})

	t.Run("Lock", func(t *testing.T) {
		s, _, _ := newClusterStore(t)
		testLockExclusion(t, s)
	})

	// What each operation costs in Cluster mode, counted by a go-redis
	// hook on the cluster client: single commands and pipelines (a
	// pipeline is one round, each node reached concurrently).
	t.Run("RoundTrips", func(t *testing.T) {
		s, c, _ := newClusterStore(t)
		hook := &counter{}
		c.AddHook(hook)
		rec := storetest.NewRecord()
		rec.User = "rt-user"
		// Warm up the script caches of every master (each has its own).
		for i := range 20 {
			w := storetest.NewRecord()
			w.User = fmt.Sprint("rt-warm-", i)
			must(t, s.Create(ctx, w))
			n := w.Clone()
			n.Version = 2
			must(t, s.Update(ctx, n, 1))
			n2 := n.Clone()
			n2.Version, n2.ID = 3, storetest.NewRecord().ID
			must(t, s.Update(ctx, n2, 2))
			must(t, s.Delete(ctx, w.Ref))
		}
		for _, tc := range []struct {
			name                 string
			op                   func() error
			wantCmds, wantRounds int
		}{
			{"Create", func() error { return s.Create(ctx, rec) }, 1, 1},
			{"Load", func() error { _, err := s.Load(ctx, rec.ID); return err }, 2, 0},
			{"Update", func() error {
				n := rec.Clone()
				n.Version, n.Data = 2, map[string]string{"k": "v2"}
				return s.Update(ctx, n, 1)
			}, 0, 1},
			{"Update with rotation", func() error {
				n := rec.Clone()
				n.Version, n.ID = 3, storetest.NewRecord().ID
				n.Aliases = []session.Alias{{Hash: rec.ID}}
				return s.Update(ctx, n, 2)
			}, 0, 2},
			{"Update dropping an ID", func() error {
				cur, err := s.Load(ctx, rec.ID) // the alias still names it
				must(t, err)
				n := cur.Clone()
				n.Version, n.Aliases = 4, nil
				hook.reset()
				return s.Update(ctx, n, 3)
			}, 0, 3},
			{"Delete", func() error { return s.Delete(ctx, rec.Ref) }, 1, 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				hook.reset()
				must(t, tc.op())
				names := hook.names
				cmds, rounds, piped := hook.reset()
				t.Logf("%s: %d single command(s) %v, %d pipeline(s) carrying %d command(s)", tc.name, cmds, names, rounds, piped)
				if cmds != tc.wantCmds || rounds != tc.wantRounds {
					t.Errorf("%s: %d commands + %d pipelines, want %d + %d", tc.name, cmds, rounds, tc.wantCmds, tc.wantRounds)
				}
			})
		}
	})
}

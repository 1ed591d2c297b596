package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/remember"
	rememberstoretest "github.com/sessiond/sessiond/remember/storetest"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/storetest"
)

// TestConformance runs the Store contract against the machine's Redis in
// both protocols: the single-node one (one script per operation), and the
// Cluster one on the same node (Config.Cluster), which exercises the
// multi-step cluster code paths without a cluster.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster bool
	}{
		{"single", false},
		{"cluster-protocol", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) session.Store {
				s, _, _ := newStore(t, tc.cluster)
				return s
			})
		})
	}
}

// TestConformanceURL runs the suite once more on a store that makes and
// owns its client from Config.URL.
func TestConformanceURL(t *testing.T) {
	url := testenv.RedisURL(t)
	storetest.Run(t, func(t *testing.T) session.Store {
		prefix := uniquePrefix()
		sharedClient(t, prefix) // for the cleanup
		s, err := redis.New(redis.Config{URL: url, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestNewValidates(t *testing.T) {
	unbounded := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer unbounded.Close()
	bounded := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer bounded.Close()
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}, ContextTimeoutEnabled: true})
	defer ring.Close()
	for _, tc := range []struct {
		name string
		cfg  redis.Config
		want string // substring of the error; "" for success
	}{
		{"nothing", redis.Config{}, "Client or Config.URL is required"},
		{"both", redis.Config{Client: bounded, URL: "redis://127.0.0.1:1"}, "not both"},
		{"bad URL", redis.Config{URL: "http://127.0.0.1:1"}, "Config.URL"},
		{"bad cluster URL", redis.Config{URL: "mysql://x", Cluster: true}, "Config.URL"},
		{"prefix with hash tag", redis.Config{Client: bounded, Prefix: "{app}:"}, "Prefix"},
		{"negative timeout", redis.Config{Client: bounded, Timeout: -time.Second}, "Timeout is negative"},
		{"negative lock wait", redis.Config{Client: bounded, LockWait: -1}, "LockWait is negative"},
		{"tiny lock TTL", redis.Config{Client: bounded, LockTTL: time.Millisecond}, "LockTTL"},
		{"negative batch", redis.Config{Client: bounded, GCBatch: -1}, "GCBatch"},
		{"client without context timeouts", redis.Config{Client: unbounded}, "ContextTimeoutEnabled"},
		{"ring", redis.Config{Client: ring}, "Ring is not supported"},
		{"client", redis.Config{Client: bounded}, ""},
		{"url", redis.Config{URL: "redis://127.0.0.1:1/2"}, ""},
		{"cluster url", redis.Config{URL: "redis://127.0.0.1:1?addr=127.0.0.1:2", Cluster: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := redis.New(tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				s.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestKeyTTLs checks that every key of a record carries a TTL derived from
// Expires (none when Expires is zero), that updates move the TTLs, and
// that a user index lives as long as its longest-lived record.
func TestKeyTTLs(t *testing.T) {
	ctx := context.Background()
	bothModes(t, func(t *testing.T, cluster bool) {
		s, c, prefix := newStore(t, cluster)
		pttl := func(key string) time.Duration { t.Helper(); return keyTTL(t, c, key) }
		near := func(key string, want time.Duration) {
			t.Helper()
			got := pttl(key)
			if got > want || got < want-5*time.Second {
				t.Fatalf("TTL of %s = %v, want about %v", strings.TrimPrefix(key, prefix), got, want)
			}
		}
		none := func(key string) {
			t.Helper()
			if got := pttl(key); got != -1 {
				t.Fatalf("TTL of %s = %v, want none (-1)", strings.TrimPrefix(key, prefix), got)
			}
		}
		user := "ttl-user"
		short := storetest.NewRecord()
		short.User = user
		short.Aliases = []session.Alias{{Hash: storetest.NewRecord().ID}}
		short.Expires = time.Now().Add(time.Hour)
		if err := s.Create(ctx, short); err != nil {
			t.Fatal(err)
		}
		keys := []string{prefix + "{" + short.Ref + "}:r", prefix + "i:" + short.ID.Hex(), prefix + "i:" + short.Aliases[0].Hash.Hex()}
		for _, k := range append(keys, prefix+"u:"+user) {
			near(k, time.Hour)
		}
		long := storetest.NewRecord()
		long.User = user
		long.Expires = time.Now().Add(3 * time.Hour)
		if err := s.Create(ctx, long); err != nil {
			t.Fatal(err)
		}
		near(prefix+"u:"+user, 3*time.Hour)

		next := short.Clone()
		next.Version, next.Expires = 2, time.Now().Add(2*time.Hour)
		if err := s.Update(ctx, next, 1); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			near(k, 2*time.Hour)
		}
		near(prefix+"u:"+user, 3*time.Hour)

		forever := next.Clone()
		forever.Version, forever.Expires = 3, time.Time{}
		if err := s.Update(ctx, forever, 2); err != nil {
			t.Fatal(err)
		}
		for _, k := range append(keys, prefix+"u:"+user) {
			none(k)
		}
	})
}

// TestLoadIgnoresStrayIDKey is the safety net of the Cluster protocol: an
// ID key that names a record which does not list that hash (left by a
// crash between two steps) must read as not found, never as the record.
func TestLoadIgnoresStrayIDKey(t *testing.T) {
	ctx := context.Background()
	bothModes(t, func(t *testing.T, cluster bool) {
		s, c, prefix := newStore(t, cluster)
		rec := storetest.NewRecord()
		if err := s.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		stray := storetest.NewRecord().ID
		if err := c.Set(ctx, prefix+"i:"+stray.Hex(), rec.Ref, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Load(ctx, stray); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Load(stray hash) = record %v, error %v; want ErrNotFound", got != nil, err)
		}
		if _, err := s.Load(ctx, rec.ID); err != nil {
			t.Fatalf("Load(real hash): %v", err)
		}
	})
}

// TestGCDropsDeadIndexEntries lets Redis expire a record by TTL and checks
// that ListUser and GC drop its entry from the user index.
func TestGCDropsDeadIndexEntries(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		cluster bool
		viaList bool
	}{
		{"single/ListUser", false, true},
		{"single/GC", false, false},
		{"cluster-protocol/ListUser", true, true},
		{"cluster-protocol/GC", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, prefix := newStore(t, tc.cluster)
			user := "expiring"
			live, dying := storetest.NewRecord(), storetest.NewRecord()
			live.User, dying.User = user, user
			dying.Expires = time.Now().Add(50 * time.Millisecond)
			for _, r := range []*session.Record{live, dying} {
				if err := s.Create(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			uk := prefix + "u:" + user
			time.Sleep(150 * time.Millisecond) // Redis expires dying's keys
			if n := c.Exists(ctx, prefix+"{"+dying.Ref+"}:r").Val(); n != 0 {
				t.Fatal("Redis did not expire the record by its TTL")
			}
			if n := c.ZCard(ctx, uk).Val(); n != 2 {
				t.Fatalf("index has %d entries before cleanup, want 2 (one dead)", n)
			}
			if tc.viaList {
				rs, err := s.ListUser(ctx, user)
				if err != nil || len(rs) != 1 || rs[0].Ref != live.Ref {
					t.Fatalf("ListUser = %d records, %v; want the live one", len(rs), err)
				}
			} else {
				n, err := s.GC(ctx, time.Now())
				if err != nil || n != 1 {
					t.Fatalf("GC = %d, %v; want 1 dead entry removed", n, err)
				}
			}
			refs, err := c.ZRange(ctx, uk, 0, -1).Result()
			if err != nil || len(refs) != 1 || refs[0] != live.Ref {
				t.Fatalf("index after cleanup = %v, %v; want only the live ref", refs, err)
			}
		})
	}
}

// TestMergeKeyTTLs: a merge in place rewrites the TTLs of a record's keys
// only when they would end before its new expiry or too long after it.
// Whatever the sequence, every key — record, ID keys, user index — lives
// at least until the record's Expires and at most a sixteenth of its time
// left past it.
func TestMergeKeyTTLs(t *testing.T) {
	ctx := context.Background()
	bothModes(t, func(t *testing.T, cluster bool) {
		s, c, prefix := newStore(t, cluster)
		rec := storetest.NewRecord()
		rec.User = "merge-ttl-" + rec.Ref
		rec.Aliases = []session.Alias{{Hash: storetest.NewRecord().ID}}
		rec.Expires = time.Now().Add(time.Hour)
		must(t, s.Create(ctx, rec.Clone()))
		keys := []string{prefix + "{" + rec.Ref + "}:r", prefix + "i:" + rec.ID.Hex(),
			prefix + "i:" + rec.Aliases[0].Hash.Hex(), prefix + "u:" + rec.User}
		pttl := func(key string) time.Duration { t.Helper(); return keyTTL(t, c, key) }
		merge := func(step string, exp time.Time) (recordTTL time.Duration) {
			t.Helper()
			base, err := s.Load(ctx, rec.ID)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			ch := storetest.SetChange(base, "step", step)
			ch.Next.Expires = exp
			must(t, s.Merge(ctx, ch))
			if exp.IsZero() {
				for _, k := range keys {
					if got := pttl(k); got != -1 {
						t.Fatalf("%s: TTL of %s = %v, want none", step, strings.TrimPrefix(k, prefix), got)
					}
				}
				return -1
			}
			left := time.Until(exp)
			for _, k := range keys {
				got := pttl(k)
				if got < left-50*time.Millisecond || got > left+left/16+time.Second {
					t.Fatalf("%s: TTL of %s = %v, want between %v (the record's expiry) and %v",
						step, strings.TrimPrefix(k, prefix), got, left, left+left/16)
				}
			}
			return pttl(keys[0])
		}
		start := time.Now()
		first := merge("slide 1s", start.Add(time.Hour+time.Second))
		second := merge("slide 2s", start.Add(time.Hour+2*time.Second))
		if !cluster && second > first {
			t.Errorf("a merge within the slack rewrote the TTLs (%v -> %v)", first, second)
		}
		merge("slide past the slack", start.Add(time.Hour+10*time.Minute))
		merge("shortened", start.Add(10*time.Minute))
		merge("never expires", time.Time{})
		merge("never expires again", time.Time{})
		merge("expires again", start.Add(20*time.Minute))
	})
}

// keyTTL is a key's PTTL: -1 without one, -2 if there is no such key.
func keyTTL(t *testing.T, c *goredis.Client, key string) time.Duration {
	t.Helper()
	d, err := c.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestStateConformance(t *testing.T) {
	storetest.State(t, func(t *testing.T) func(t *testing.T) storetest.StateStore {
		url := testenv.RedisURL(t)
		prefix := uniquePrefix()
		sharedClient(t, prefix) // for the cleanup
		return func(t *testing.T) storetest.StateStore {
			s, err := redis.New(redis.Config{URL: url, Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}

func TestRememberConformance(t *testing.T) {
	rememberstoretest.Run(t, func(t *testing.T) remember.Store {
		s, _, _ := newStore(t, false)
		r, err := s.Remember(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}

// The revocation list the store hands out (as the gateway's cookie store
// uses it, on the store's client) keeps its answers under the store's prefix.
func TestRevocationsFromStore(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newStore(t, false)
	r, err := s.Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RevokeRef(ctx, "ref1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if revoked, err := r.RefRevoked(ctx, "ref1"); err != nil || !revoked {
		t.Fatalf("RefRevoked = %v, %v", revoked, err)
	}
}

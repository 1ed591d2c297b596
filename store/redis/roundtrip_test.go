package redis_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/storetest"
)

// maxDataMergeArgs bounds the arguments of a data-only merge that sets
// one key: 12, and the key and its value.
const maxDataMergeArgs = 14

// TestRoundTrips counts, on a redis-server of the test's own (so nothing
// else moves the counters), what each operation costs: the client side
// through a go-redis hook (commands sent), the server side through INFO
// commandstats (top-level EVALSHA/EVAL calls; the other entries are the
// calls the script made inside Redis, logged for the record). The budget:
// one round trip for a read-only request, at most two for a modifying one.
func TestRoundTrips(t *testing.T) {
	srv := newServer(t, testenv.FreePort(t))
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: srv.addr(), ContextTimeoutEnabled: true, PoolSize: 1})
	defer c.Close()
	hook := &counter{}
	c.AddHook(hook)
	stats := goredis.NewClient(&goredis.Options{Addr: srv.addr()})
	defer stats.Close()
	s, err := redis.New(redis.Config{Client: c})
	if err != nil {
		t.Fatal(err)
	}

	rec := storetest.NewRecord()
	rec.User = "rt-user"
	// Warm up: load the scripts into the server's cache and open the
	// connection, so the counts below are the steady state.
	warm := storetest.NewRecord()
	warm.User = "rt-warm"
	must(t, s.Create(ctx, warm))
	next := warm.Clone()
	next.Version = 2
	must(t, s.Update(ctx, next, 1))
	_, err = s.Load(ctx, warm.ID)
	must(t, err)
	_, err = s.ListUser(ctx, warm.User)
	must(t, err)
	must(t, s.Merge(ctx, storetest.SetChange(next, "w", "1")))
	must(t, s.Delete(ctx, warm.Ref))

	readOnly := []string{"evalsha", "get", "hget", "hgetall"}
	for _, tc := range []struct {
		name string
		op   func() error
		// onlyReads lists the only commands the server may see (nil: any).
		onlyReads []string
		// scripts is the EVALSHA calls the operation makes: one per
		// command but for a load by hint (a plain HGETALL).
		scripts int64
	}{
		{"Create", func() error { return s.Create(ctx, rec) }, nil, 1},
		{"Load", func() error { _, err := s.Load(ctx, rec.ID); return err }, readOnly, 1},
		{"Load by hint", func() error { _, err := s.Load(ctx, rec.ID); return err }, []string{"hgetall"}, 0},
		{"Load unknown ID", func() error {
			_, err := s.Load(ctx, storetest.NewRecord().ID)
			if err == nil {
				t.Fatal("Load of an unknown ID succeeded")
			}
			return nil
		}, readOnly, 1},
		{"Update", func() error {
			n := rec.Clone()
			n.Version, n.Data = 2, map[string]string{"k": "v2"}
			return s.Update(ctx, n, 1)
		}, nil, 1},
		{"Update with rotation", func() error {
			n := rec.Clone()
			n.Version, n.ID = 3, storetest.NewRecord().ID
			n.Aliases = []session.Alias{{Hash: rec.ID}}
			return s.Update(ctx, n, 2)
		}, nil, 1},
		// A modifying request: its load, then its merge.
		{"Load and Merge", func() error {
			base, err := s.Load(ctx, rec.ID)
			if err != nil {
				return err
			}
			return s.Merge(ctx, storetest.SetChange(base, "a", "1"))
		}, nil, 1},
		{"Load and Merge after a concurrent write", func() error {
			base, err := s.Load(ctx, rec.ID)
			if err != nil {
				return err
			}
			stale := base.Clone()
			stale.Version--
			return s.Merge(ctx, storetest.SetChange(stale, "b", "2"))
		}, nil, 1},
		{"ListUser", func() error { _, err := s.ListUser(ctx, rec.User); return err }, nil, 1},
		{"Delete", func() error { return s.Delete(ctx, rec.Ref) }, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := commandStats(t, stats)
			hook.reset()
			if err := tc.op(); err != nil {
				t.Fatal(err)
			}
			last := hook.lastArgs()
			cmds, pipelines, _ := hook.reset()
			d := diffStats(before, commandStats(t, stats))
			t.Logf("%s: client sent %d command(s), %d pipeline(s); server commandstats diff %v", tc.name, cmds, pipelines, d)
			want := int64(1)
			if strings.HasPrefix(tc.name, "Load and ") {
				want = 2 // at most two for a modifying request, its load included
			}
			if int64(cmds) != want || pipelines != 0 {
				t.Errorf("client sent %d commands and %d pipelines, want exactly %d", cmds, pipelines, want)
			}
			if d["evalsha"] != tc.scripts || d["eval"] != 0 {
				t.Errorf("server ran %d EVALSHA and %d EVAL, want %d EVALSHA", d["evalsha"], d["eval"], tc.scripts)
			}
			if strings.HasPrefix(tc.name, "Load and Merge") {
				// The merge of a data change (the common modifying request)
				// gives Redis the record's key alone and only what such a
				// merge needs: every argument costs Redis time.
				if len(last) < 4 || last[0] != "evalsha" || fmt.Sprint(last[2]) != "1" || len(last)-4 > maxDataMergeArgs {
					keys := "?"
					if len(last) > 2 {
						keys = fmt.Sprint(last[2])
					}
					t.Errorf("the merge sent %d words (%v keys), want EVALSHA with one key and at most %d arguments", len(last), keys, maxDataMergeArgs)
				}
			}
			if tc.onlyReads != nil {
				for _, name := range slices.Sorted(maps.Keys(d)) {
					if !slices.Contains(tc.onlyReads, name) {
						t.Errorf("read-only operation ran %q on the server", name)
					}
				}
			}
		})
	}

	// After SCRIPT FLUSH (a restart, a failover) the first call falls back
	// to EVAL once; the next one is back to a single EVALSHA.
	t.Run("NOSCRIPT fallback", func(t *testing.T) {
		r1, r2 := storetest.NewRecord(), storetest.NewRecord()
		must(t, s.Create(ctx, r1))
		must(t, s.Create(ctx, r2))
		must(t, stats.ScriptFlush(ctx).Err())
		for i, step := range []struct {
			h    session.Hash
			want map[string]int64
		}{
			{r1.ID, map[string]int64{"evalsha": 1, "eval": 1}},
			{r2.ID, map[string]int64{"evalsha": 1}},
			{r1.ID, map[string]int64{"hgetall": 1}}, // by hint
		} {
			before := commandStats(t, stats)
			if _, err := s.Load(ctx, step.h); err != nil {
				t.Fatalf("Load %d after SCRIPT FLUSH: %v", i, err)
			}
			d := diffStats(before, commandStats(t, stats))
			if d["evalsha"] != step.want["evalsha"] || d["eval"] != step.want["eval"] {
				t.Fatalf("Load %d after SCRIPT FLUSH: commandstats diff %v, want %v", i, d, step.want)
			}
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

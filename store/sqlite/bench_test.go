package sqlite_test

import (
	"context"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/sqlstore/sqlbench"
	"github.com/sessiond/sessiond/store/sqlite"
	"github.com/sessiond/sessiond/store/storetest"
)

// Run with: go test -bench . -benchmem -run '^$' ./store/sqlite/
// (BenchmarkLoadDuringGC: add -benchtime=1x; -gcrows=1000000 for the scale target.)

var (
	gcRows   = flag.Int("gcrows", 200_000, "expired rows BenchmarkLoadDuringGC collects")
	gcBatch  = flag.Int("gcbatch", 0, "Config.GCBatch for BenchmarkLoadDuringGC (0: default)")
	gcTarget = flag.Duration("gctarget", 0, "Config.GCTarget for BenchmarkLoadDuringGC (0: default)")
	gcIdle   = flag.Duration("gcidle", 3*time.Second, "how long BenchmarkLoadDuringGC measures the idle store before the sweep")
)

const benchLive = 10_000 // live records the benchmarks pick from

func benchStore(b *testing.B, cfg sqlite.Config) (*sqlite.Store, []*session.Record) {
	b.Helper()
	cfg.Path = filepath.Join(b.TempDir(), "bench.db")
	s := newStore(b, cfg)
	return s, seed(b, s, benchLive, time.Now().Add(time.Hour), "bench-user")
}

func BenchmarkLoad(b *testing.B) {
	s, recs := benchStore(b, sqlite.Config{})
	sqlbench.Load(b, s, recs)
}

func BenchmarkLoadParallel(b *testing.B) {
	s, recs := benchStore(b, sqlite.Config{})
	sqlbench.LoadParallel(b, s, recs, 4)
}

func BenchmarkLoadMiss(b *testing.B) {
	s, _ := benchStore(b, sqlite.Config{})
	sqlbench.LoadMiss(b, s)
}

func BenchmarkUpdate(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			s, recs := benchStore(b, sqlite.Config{Synchronous: sync})
			sqlbench.Update(b, s, recs)
		})
	}
}

func BenchmarkUpdateParallel(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			s, recs := benchStore(b, sqlite.Config{Synchronous: sync})
			sqlbench.UpdateParallel(b, s, recs, 4)
		})
	}
}

// BenchmarkMixedParallel: 9 loads for 1 update, 8 goroutines: the shape
// of gateway traffic (and of the single-writer design's trade-off).
func BenchmarkMixedParallel(b *testing.B) {
	s, recs := benchStore(b, sqlite.Config{})
	sqlbench.Mixed(b, s, recs, 4, 10)
}

func BenchmarkCreate(b *testing.B) {
	s, _ := benchStore(b, sqlite.Config{})
	ctx := context.Background()
	for b.Loop() {
		if err := s.Create(ctx, storetest.NewRecord()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadDuringGC: Load and Update p50/p99 idle and while GC deletes
// -gcrows expired rows; the target is a p99 within 2× of idle.
func BenchmarkLoadDuringGC(b *testing.B) {
	for range b.N {
		s, live := benchStore(b, sqlite.Config{GCBatch: *gcBatch, GCTarget: *gcTarget})
		if err := sqlite.BulkExpired(context.Background(), s, *gcRows, time.Now().Add(-time.Hour), "gc-user"); err != nil {
			b.Fatal(err)
		}
		if err := sqlite.Checkpoint(context.Background(), s); err != nil {
			b.Fatal(err)
		}
		sqlbench.LoadDuringGC(b, s, live, *gcRows, *gcIdle)
	}
}

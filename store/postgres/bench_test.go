package postgres_test

import (
	"context"
	"flag"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/sqlstore/sqlbench"
	"github.com/sessiond/sessiond/store/postgres"
	"github.com/sessiond/sessiond/store/storetest"
)

// Run with: go test -bench . -benchmem -run '^$' ./store/postgres/
// (BenchmarkLoadDuringGC: add -benchtime=1x; -gcrows=1000000 for the scale target.)

var (
	gcRows   = flag.Int("gcrows", 200_000, "expired rows BenchmarkLoadDuringGC collects")
	gcTarget = flag.Duration("gctarget", 0, "Config.GCTarget for BenchmarkLoadDuringGC (0: default)")
	gcIdle   = flag.Duration("gcidle", 3*time.Second, "how long BenchmarkLoadDuringGC measures the idle store before the sweep")
)

const benchLive = 10_000 // live records the benchmarks pick from

// benchStore opens a store in a fresh schema with benchLive records.
func benchStore(b *testing.B) (*postgres.Store, []*session.Record, string, string) {
	return benchStoreConfig(b, postgres.Config{})
}

// benchStoreConfig is benchStore with cfg (URL and Schema are set here).
func benchStoreConfig(b *testing.B, cfg postgres.Config) (*postgres.Store, []*session.Record, string, string) {
	b.Helper()
	url := testenv.PostgresURL(b)
	schema := freshSchema(b, url)
	cfg.URL, cfg.Schema = url, schema
	s := newStore(b, cfg)
	recs := make([]*session.Record, benchLive)
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(recs); i += workers {
				r := storetest.NewRecord()
				r.Aliases = []session.Alias{{Hash: storetest.NewRecord().ID, Until: r.Created}}
				if i%10 == 0 {
					r.User = "bench-user"
				}
				if err := s.Create(context.Background(), r.Clone()); err != nil {
					b.Error(err)
					return
				}
				recs[i] = r
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return s, recs, url, schema
}

func BenchmarkLoad(b *testing.B) {
	s, recs, _, _ := benchStore(b)
	sqlbench.Load(b, s, recs)
}

func BenchmarkLoadParallel(b *testing.B) {
	s, recs, _, _ := benchStore(b)
	sqlbench.LoadParallel(b, s, recs, 4)
}

func BenchmarkLoadMiss(b *testing.B) {
	s, _, _, _ := benchStore(b)
	sqlbench.LoadMiss(b, s)
}

func BenchmarkUpdate(b *testing.B) {
	s, recs, _, _ := benchStore(b)
	sqlbench.Update(b, s, recs)
}

func BenchmarkUpdateParallel(b *testing.B) {
	s, recs, _, _ := benchStore(b)
	sqlbench.UpdateParallel(b, s, recs, 4)
}

// BenchmarkMixedParallel: 9 loads for 1 update, 8 goroutines: the shape
// of gateway traffic.
func BenchmarkMixedParallel(b *testing.B) {
	s, recs, _, _ := benchStore(b)
	sqlbench.Mixed(b, s, recs, 4, 10)
}

func BenchmarkCreate(b *testing.B) {
	s, _, _, _ := benchStore(b)
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
		s, live, url, schema := benchStoreConfig(b, postgres.Config{GCTarget: *gcTarget})
		bulkExpired(b, url, schema, *gcRows, time.Now().Add(-time.Hour), "gc-user")
		if err := execSQL(context.Background(), url, `VACUUM ANALYZE `+schema+`.sessiond_sessions, `+schema+`.sessiond_ids`); err != nil {
			b.Fatal(err)
		}
		sqlbench.LoadDuringGC(b, s, live, *gcRows, *gcIdle)
	}
}

// Package sqlbench holds the benchmark bodies the SQL stores share, so that
// their figures in BENCHMARKS.md measure the same thing. Each store's
// bench_test.go sets up a real store and calls these.
package sqlbench

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/storetest"
)

// Load loads random records of recs, one at a time.
func Load(b *testing.B, s session.Store, recs []*session.Record) {
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Load(ctx, recs[rand.IntN(len(recs))].ID); err != nil {
			b.Fatal(err)
		}
	}
}

// LoadParallel loads random records of recs from GOMAXPROCS×p goroutines.
func LoadParallel(b *testing.B, s session.Store, recs []*session.Record, p int) {
	ctx := context.Background()
	b.SetParallelism(p)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Load(ctx, recs[rand.IntN(len(recs))].ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// LoadMiss loads an ID no record has (the cost of an unknown cookie).
func LoadMiss(b *testing.B, s session.Store) {
	ctx := context.Background()
	h := storetest.NewRecord().ID
	for b.Loop() {
		if _, err := s.Load(ctx, h); !errors.Is(err, session.ErrNotFound) {
			b.Fatal(err)
		}
	}
}

// Updater does compare-and-swap updates of its own records without loading
// them first (it knows their versions): a data change with the same IDs,
// the common modifying request.
type Updater struct {
	recs []*session.Record
	i    int
}

// NewUpdater takes over recs (a copy of the slice is kept).
func NewUpdater(recs []*session.Record) *Updater {
	return &Updater{recs: slices.Clone(recs), i: rand.IntN(len(recs))}
}

// Next updates the next record.
func (u *Updater) Next(ctx context.Context, s session.Store) error {
	j := u.i % len(u.recs)
	u.i++
	r := u.recs[j]
	next := r.Clone()
	next.Version = r.Version + 1
	next.LastSeen = time.Now()
	if next.Data == nil {
		next.Data = map[string]string{}
	}
	next.Data["n"] = next.LastSeen.String()
	if err := s.Update(ctx, next, r.Version); err != nil {
		return err
	}
	u.recs[j] = next
	return nil
}

// Update updates records of recs one at a time.
func Update(b *testing.B, s session.Store, recs []*session.Record) {
	ctx := context.Background()
	u := NewUpdater(recs)
	for b.Loop() {
		if err := u.Next(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}

// UpdateParallel updates from GOMAXPROCS×p goroutines, each on its own
// share of recs (so no CAS conflicts: this measures the store, not retries).
func UpdateParallel(b *testing.B, s session.Store, recs []*session.Record, p int) {
	ctx := context.Background()
	shares := shareUpdaters(b, recs, p)
	b.RunParallel(func(pb *testing.PB) {
		u := shares()
		for pb.Next() {
			if err := u.Next(ctx, s); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// shareUpdaters sets b's parallelism to p, resets its timer and returns
// what each of b.RunParallel's goroutines calls once: an Updater on its own
// share of recs (recs cut in p×64 shares, so no two goroutines update
// one record).
func shareUpdaters(b *testing.B, recs []*session.Record, p int) func() *Updater {
	var next atomic.Int64
	parts := p * 64
	b.SetParallelism(p)
	b.ResetTimer()
	return func() *Updater {
		k := int(next.Add(1)-1) % parts
		n := len(recs) / parts
		return NewUpdater(recs[k*n : (k+1)*n])
	}
}

// Mixed runs a request-like mix from GOMAXPROCS×p goroutines: every
// writeEvery-th operation an Update of the goroutine's own records, the
// others Loads of any record. It reports p50/p99 latency of each kind as
// metrics besides ns/op.
func Mixed(b *testing.B, s session.Store, recs []*session.Record, p, writeEvery int) {
	ctx := context.Background()
	var mu sync.Mutex
	var loads, updates []time.Duration
	shares := shareUpdaters(b, recs, p)
	b.RunParallel(func(pb *testing.PB) {
		u := shares()
		var myLoads, myUpdates []time.Duration
		for i := 0; pb.Next(); i++ {
			t0 := time.Now()
			if i%writeEvery == writeEvery-1 {
				if err := u.Next(ctx, s); err != nil {
					b.Error(err)
					return
				}
				myUpdates = append(myUpdates, time.Since(t0))
				continue
			}
			if _, err := s.Load(ctx, recs[rand.IntN(len(recs))].ID); err != nil {
				b.Error(err)
				return
			}
			myLoads = append(myLoads, time.Since(t0))
		}
		mu.Lock()
		loads, updates = append(loads, myLoads...), append(updates, myUpdates...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(micros(loads, 50), "load-p50-µs")
	b.ReportMetric(micros(loads, 99), "load-p99-µs")
	b.ReportMetric(micros(updates, 50), "update-p50-µs")
	b.ReportMetric(micros(updates, 99), "update-p99-µs")
}

// LoadDuringGC measures Load and Update latency (p50, p99) on an idle
// store for idle, then while GC deletes the expired rows the caller seeded
// (expired of them), one goroutine loading and one updating at a request
// rate rather than flat out. It reports the figures as metrics; the work
// is fixed, so run it with -benchtime=1x.
func LoadDuringGC(b *testing.B, s session.Store, live []*session.Record, expired int, idle time.Duration) {
	ctx := context.Background()
	u := NewUpdater(live) // one for both phases: it knows the versions
	var idleStop atomic.Bool
	time.AfterFunc(idle, func() { idleStop.Store(true) })
	idleLoad, idleUpd := measure(ctx, b, s, live, u, &idleStop)

	var gcDone atomic.Bool
	var deleted int
	var gcTime time.Duration
	var gcErr error
	go func() {
		defer gcDone.Store(true)
		t0 := time.Now()
		deleted, gcErr = s.GC(ctx, time.Now())
		gcTime = time.Since(t0)
	}()
	gcLoad, gcUpd := measure(ctx, b, s, live, u, &gcDone)
	if gcErr != nil || deleted != expired {
		b.Fatalf("GC = %d, %v; want %d, nil", deleted, gcErr, expired)
	}
	b.ReportMetric(gcTime.Seconds(), "gc-s")
	b.ReportMetric(float64(deleted)/gcTime.Seconds(), "gc-rows/s")
	b.ReportMetric(micros(idleLoad, 50), "load-p50-idle-µs")
	b.ReportMetric(micros(idleLoad, 99), "load-p99-idle-µs")
	b.ReportMetric(micros(gcLoad, 50), "load-p50-gc-µs")
	b.ReportMetric(micros(gcLoad, 99), "load-p99-gc-µs")
	b.ReportMetric(micros(gcLoad, 99)/micros(idleLoad, 99), "load-p99-gc/idle")
	b.ReportMetric(micros(idleUpd, 99), "update-p99-idle-µs")
	b.ReportMetric(micros(gcUpd, 99), "update-p99-gc-µs")
	b.ReportMetric(micros(gcUpd, 99)/micros(idleUpd, 99), "update-p99-gc/idle")
	b.Logf("samples: load idle %d, during GC %d; update idle %d, during GC %d",
		len(idleLoad), len(gcLoad), len(idleUpd), len(gcUpd))
}

// measure loads random records of recs in one goroutine and updates
// through u in another until stop is set, and returns their latencies.
func measure(ctx context.Context, b *testing.B, s session.Store, recs []*session.Record, u *Updater, stop *atomic.Bool) (loads, updates []time.Duration) {
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			t0 := time.Now()
			if _, err := s.Load(ctx, recs[rand.IntN(len(recs))].ID); err != nil {
				b.Error(err)
				return
			}
			loads = append(loads, time.Since(t0))
			time.Sleep(200 * time.Microsecond)
		}
	})
	wg.Go(func() {
		for !stop.Load() {
			t0 := time.Now()
			if err := u.Next(ctx, s); err != nil {
				b.Error(err)
				return
			}
			updates = append(updates, time.Since(t0))
			time.Sleep(2 * time.Millisecond)
		}
	})
	wg.Wait()
	return loads, updates
}

// micros is the p-th percentile of lat in microseconds.
func micros(lat []time.Duration, p int) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return float64(s[(len(s)-1)*p/100].Nanoseconds()) / 1e3
}

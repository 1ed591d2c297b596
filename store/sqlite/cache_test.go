package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/sqlite"
	"github.com/sessiond/sessiond/store/storetest"
)

// The read cache must never serve a record that another connection or
// another process has changed or deleted since: these tests write
// through a second Store on the same file (its own connections) and
// through the sqlite3 command (another process, C SQLite), and read
// through a Store whose cache is warm.

func TestCacheSeesWritesOfAnotherConnection(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	reader := newStore(t, sqlite.Config{Path: path})
	writer := newStore(t, sqlite.Config{Path: path, CacheSize: -1})

	rec := storetest.NewRecord()
	if err := writer.Create(ctx, rec.Clone()); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		for range 3 { // warm: the second and third loads may come from the cache
			got, err := reader.Load(ctx, rec.ID)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if got.Version != rec.Version || got.Data["n"] != rec.Data["n"] {
				t.Fatalf("step %d: loaded version %d n=%q, want %d n=%q (stale)", i, got.Version, got.Data["n"], rec.Version, rec.Data["n"])
			}
		}
		next := rec.Clone()
		next.Version++
		next.Data = map[string]string{"n": fmt.Sprint(i)}
		if err := writer.Update(ctx, next.Clone(), rec.Version); err != nil {
			t.Fatal(err)
		}
		rec = next
	}
	// Revocation by the other connection: gone at once.
	if _, err := reader.Load(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if err := writer.Delete(ctx, rec.Ref); err != nil {
		t.Fatal(err)
	}
	if got, err := reader.Load(ctx, rec.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("after another connection deleted the record, Load = %v, %v; want ErrNotFound", got, err)
	}
}

// While one connection updates a record as fast as it can, every load on
// another returns at least the version acknowledged before the load began.
func TestCacheNeverStaleUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	reader := newStore(t, sqlite.Config{Path: path})
	writer := newStore(t, sqlite.Config{Path: path, CacheSize: -1, Synchronous: "NORMAL"})
	rec := storetest.NewRecord()
	if err := writer.Create(ctx, rec.Clone()); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Uint64
	acked.Store(rec.Version)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		cur := rec
		for {
			select {
			case <-stop:
				return
			default:
			}
			next := cur.Clone()
			next.Version++
			if err := writer.Update(ctx, next.Clone(), cur.Version); err != nil {
				t.Error(err)
				return
			}
			acked.Store(next.Version)
			cur = next
		}
	})
	var loads, cached int
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		floor := acked.Load()
		got, err := reader.Load(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version < floor {
			t.Fatalf("load returned version %d after version %d was acknowledged", got.Version, floor)
		}
		if got.Version == floor {
			cached++
		}
		loads++
	}
	close(stop)
	wg.Wait()
	t.Logf("%d loads, %d returned the newest acknowledged version", loads, cached)
}

func TestCacheSeesWritesOfAnotherProcess(t *testing.T) {
	sqlite3 := testenv.LookPath(t, "sqlite3")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s := newStore(t, sqlite.Config{Path: path})
	rec, donor := storetest.NewRecord(), storetest.NewRecord()
	donor.Data = map[string]string{"k": "written by another process"}
	for _, r := range []*session.Record{rec, donor} {
		if err := s.Create(ctx, r.Clone()); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 { // warm
		if got, err := s.Load(ctx, rec.ID); err != nil || got.Data["k"] != "v" {
			t.Fatalf("Load = %+v, %v", got, err)
		}
	}
	run := func(sql string) {
		t.Helper()
		if out, err := exec.Command(sqlite3, "-cmd", ".timeout 5000", path, sql).CombinedOutput(); err != nil {
			t.Fatalf("sqlite3 %q: %v\n%s", sql, err, out)
		}
	}
	// Another process (the sqlite3 shell, C SQLite) rewrites the record...
	run(fmt.Sprintf("UPDATE sessions SET blob = (SELECT blob FROM sessions WHERE ref = '%s') WHERE ref = '%s'", donor.Ref, rec.Ref))
	if got, err := s.Load(ctx, rec.ID); err != nil || got.Data["k"] != "written by another process" {
		t.Fatalf("after another process rewrote the record, Load = %+v, %v; want its new data", got, err)
	}
	// ...then deletes it: a revocation from outside this process.
	run(fmt.Sprintf("DELETE FROM sessions WHERE ref = '%s'", rec.Ref))
	if got, err := s.Load(ctx, rec.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("after another process deleted the record, Load = %+v, %v; want ErrNotFound", got, err)
	}
}

// A warm cache answers without a query: loads keep working, and fast,
// while nothing is written.
func TestCacheServesUnchangedRecords(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, sqlite.Config{})
	rec := storetest.NewRecord()
	if err := s.Create(ctx, rec.Clone()); err != nil {
		t.Fatal(err)
	}
	first, err := s.Load(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Load(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Fatal("an unchanged record was read from the database again: the cache is not used")
	}
	// One write anywhere in the file (another session) invalidates it.
	other := storetest.NewRecord()
	if err := s.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	third, err := s.Load(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if third == second {
		t.Fatal("a cached record was served after a commit to the database")
	}
}

// The write-through relies on the WAL-index header's change counter
// counting commits exactly: one per committed transaction, whatever it
// wrote, and none for reads or checkpoints (also those that start the
// WAL over). If a SQLite upgrade changed that, this fails.
func TestHeaderCountsCommits(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, sqlite.Config{})
	count := func() uint32 {
		t.Helper()
		n, ok := sqlite.CommitCount(s)
		if !ok {
			t.Fatal("WAL-index header unreadable")
		}
		return n
	}
	rec := storetest.NewRecord()
	if err := s.Create(ctx, rec.Clone()); err != nil {
		t.Fatal(err)
	}
	update := func(step string) {
		t.Helper()
		before := count()
		next := rec.Clone()
		next.Version++
		next.Data = map[string]string{"n": step}
		if err := s.Update(ctx, next.Clone(), rec.Version); err != nil {
			t.Fatal(err)
		}
		rec = next
		if got := count(); got != before+1 {
			t.Fatalf("%s: change counter went from %d to %d over one commit, want +1", step, before, got)
		}
	}
	update("first")
	before := count()
	if _, err := s.Load(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.Checkpoint(ctx, s); err != nil { // TRUNCATE: the WAL starts over
		t.Fatal(err)
	}
	if got := count(); got != before {
		t.Fatalf("a load and a checkpoint moved the change counter from %d to %d", before, got)
	}
	update("after the WAL restarted")
	for i := range 2500 { // about 5,000 frames: the checkpointer restarts the WAL on the way
		update(fmt.Sprint(i))
	}
}

// A record this store has just written is served from the read cache:
// the next request's load after a modifying request needs no query.
// Another connection's commit in between still sends the load to the
// database.
func TestCacheHoldsWhatThisStoreWrote(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s := newStore(t, sqlite.Config{Path: path})
	other := newStore(t, sqlite.Config{Path: path, CacheSize: -1})
	load := func(step string, id session.Hash, wantN string, wantQuery bool) *session.Record {
		t.Helper()
		before := sqlite.LoadQueries(s)
		got, err := s.Load(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got.Data["n"] != wantN {
			t.Fatalf("%s: loaded n=%q, want %q", step, got.Data["n"], wantN)
		}
		if queried := sqlite.LoadQueries(s) > before; queried != wantQuery {
			t.Fatalf("%s: load read the database: %v, want %v", step, queried, wantQuery)
		}
		return got
	}
	rec := storetest.NewRecord()
	rec.Data = map[string]string{"n": "created"}
	if err := s.Create(ctx, rec.Clone()); err != nil {
		t.Fatal(err)
	}
	base := load("after create", rec.ID, "created", false)

	next := base.Clone()
	next.Version++
	next.Data = map[string]string{"n": "updated"}
	if err := s.Update(ctx, next.Clone(), base.Version); err != nil {
		t.Fatal(err)
	}
	base = load("after update", rec.ID, "updated", false)

	merged := base.Clone()
	merged.Version++
	merged.Data = map[string]string{"n": "merged"}
	c := &session.Change{Base: base, Next: merged, Set: map[string]string{"n": "merged"}}
	if err := s.Merge(ctx, c); err != nil {
		t.Fatal(err)
	}
	base = load("after merge", rec.ID, "merged", false)

	// Another connection writes the record: the load must see it.
	theirs := base.Clone()
	theirs.Version++
	theirs.Data = map[string]string{"n": "theirs"}
	if err := other.Update(ctx, theirs.Clone(), base.Version); err != nil {
		t.Fatal(err)
	}
	load("after another connection's update", rec.ID, "theirs", true)
}

// Two stores on one file (two gateways on one host) update one record
// as fast as they can, each reading it back through its cache: no load
// ever returns a version older than one already acknowledged. A store
// that cached its own write after the other's commit had landed would
// serve its older version here.
func TestCacheTwoWritersNeverStale(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	stores := []*sqlite.Store{
		newStore(t, sqlite.Config{Path: path, Synchronous: "NORMAL"}),
		newStore(t, sqlite.Config{Path: path, Synchronous: "NORMAL"}),
	}
	rec := storetest.NewRecord()
	if err := stores[0].Create(ctx, rec.Clone()); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Uint64
	acked.Store(rec.Version)
	// At least a second, then until both stores have written (one that
	// keeps losing the race to the other backs off after each conflict),
	// at most ten.
	start := time.Now()
	var writes [2]atomic.Int64
	running := func() bool {
		d := time.Since(start)
		return d < time.Second || (d < 10*time.Second && (writes[0].Load() == 0 || writes[1].Load() == 0))
	}
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			for running() {
				floor := acked.Load()
				cur, err := s.Load(ctx, rec.ID)
				if err != nil {
					t.Error(err)
					return
				}
				if cur.Version < floor {
					t.Errorf("store %d loaded version %d after version %d was acknowledged", i, cur.Version, floor)
					return
				}
				next := cur.Clone()
				next.Version++
				next.Data = map[string]string{"by": fmt.Sprint(i)}
				switch err := s.Update(ctx, next, cur.Version); {
				case errors.Is(err, session.ErrConflict):
					time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
				case err != nil:
					t.Error(err)
					return
				default:
					writes[i].Add(1)
					for { // acked = max(acked, next.Version)
						a := acked.Load()
						if a >= next.Version || acked.CompareAndSwap(a, next.Version) {
							break
						}
					}
				}
			}
		})
	}
	wg.Wait()
	w := []int64{writes[0].Load(), writes[1].Load()}
	t.Logf("writes: %d and %d", w[0], w[1])
	if w[0] == 0 || w[1] == 0 {
		t.Fatalf("writes %v: both stores should have written", w)
	}
}

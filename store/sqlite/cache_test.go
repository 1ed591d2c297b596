package sqlite_test

import (
	"context"
	"errors"
	"fmt"
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

package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/sqlite"
	"github.com/sessiond/sessiond/store/storetest"
)

// seed makes n records expiring at exp (zero: never), each with an alias
// and, for every tenth, a user, and bulk-inserts them.
func seed(t testing.TB, s *sqlite.Store, n int, exp time.Time, user string) []*session.Record {
	t.Helper()
	recs := make([]*session.Record, n)
	for i := range recs {
		r := storetest.NewRecord()
		r.Expires = exp
		r.Aliases = []session.Alias{{Hash: storetest.NewRecord().ID, Until: exp}}
		if i%10 == 0 {
			r.User = user
		}
		recs[i] = r
	}
	for i := 0; i < n; i += 10000 {
		if err := sqlite.BulkCreate(context.Background(), s, recs[i:min(i+10000, n)]); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	return recs
}

// TestGCDeletesExpiredInBatches: GC removes every expired record and its ID
// rows, batch after batch, and keeps live and never-expiring ones.
func TestGCDeletesExpiredInBatches(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	many, timeout := 20_000, time.Duration(0)
	if raceEnabled {
		many, timeout = 2_000, time.Minute // see raceEnabled
		t.Logf("race detector on: %d expired rows instead of 20,000", many)
	}
	cases := []struct {
		name           string
		expired, batch int
		target         time.Duration // Config.GCTarget
	}{
		{fmt.Sprintf("%d rows, adaptive batches", many), many, 0, 0},
		{fmt.Sprintf("%d rows in fixed batches of 1000", many), many, 0, -1},
		{"exact multiple of the batch", 2000, 500, -1},
		{"one partial batch", 7, 1000, 0},
		{"batch of one", 25, 1, 0},
		{"nothing expired", 0, 1000, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gc.db")
			s := newStore(t, sqlite.Config{Path: path, GCBatch: tc.batch, GCTarget: tc.target, Timeout: timeout})
			user := "u-" + t.Name()
			if err := sqlite.BulkExpired(context.Background(), s, tc.expired, now.Add(-time.Minute), user); err != nil {
				t.Fatal(err)
			}
			live := seed(t, s, 300, now.Add(time.Hour), user)
			forever := seed(t, s, 50, time.Time{}, user)
			// The boundary: expiring exactly at now is expired
			// (Record.ExpiredAt); a microsecond later is live.
			edge := seed(t, s, 1, now, user)[0]
			after := seed(t, s, 1, now.Add(time.Microsecond), user)[0]

			n, err := s.GC(context.Background(), now)
			if err != nil {
				t.Fatalf("GC: %v", err)
			}
			if n != tc.expired+1 {
				t.Fatalf("GC deleted %d, want %d", n, tc.expired+1)
			}
			db := rawDB(t, path)
			keep := len(live) + len(forever) + 1
			if got := count(t, db, `SELECT count(*) FROM sessions`); got != keep {
				t.Fatalf("%d sessions left, want %d", got, keep)
			}
			if got := count(t, db, `SELECT count(*) FROM ids`); got != 2*keep {
				t.Fatalf("%d ID rows left, want %d (no orphans)", got, 2*keep)
			}
			if got := count(t, db, `SELECT count(*) FROM ids WHERE sid NOT IN (SELECT id FROM sessions)`); got != 0 {
				t.Fatalf("%d orphaned ID rows", got)
			}
			ctx := context.Background()
			for _, r := range append(append(live, forever...), after) {
				if _, err := s.Load(ctx, r.Aliases[0].Hash); err != nil {
					t.Fatalf("live record lost: %v", err)
				}
			}
			if _, err := s.Load(ctx, edge.ID); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("record expiring exactly at now: Load = %v, want ErrNotFound", err)
			}
			list, err := s.ListUser(ctx, user)
			if err != nil || len(list) != 36 {
				t.Fatalf("ListUser after GC = %d records, %v; want 36 live", len(list), err)
			}
			if n, err := s.GC(ctx, now); n != 0 || err != nil {
				t.Fatalf("second GC = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

func TestGCStopsWhenContextEnds(t *testing.T) {
	now := time.Now()
	s := newStore(t, sqlite.Config{GCBatch: 10})
	seed(t, s, 100, now.Add(-time.Minute), "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := s.GC(ctx, now)
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("GC with a canceled context = %d, %v; want 0, context.Canceled", n, err)
	}
	if n, err := s.GC(context.Background(), now); n != 100 || err != nil {
		t.Fatalf("GC = %d, %v; want 100, nil", n, err)
	}
}

// TestGCYieldsToWaitingWriter: a request that writes while a GC batch
// holds the writer does not wait for the batch: the batch is abandoned
// (rolled back), the request's write goes first, and the sweep still
// deletes everything afterwards, leaving the writer syncing (FULL) as
// configured. Before the batch could be abandoned, the update returned
// only once the whole batch had committed.
func TestGCYieldsToWaitingWriter(t *testing.T) {
	many := 20_000
	if raceEnabled {
		many = 2_000 // see raceEnabled
	}
	path := filepath.Join(t.TempDir(), "gc.db")
	// One batch of every expired row, no pause: the slowest a batch gets.
	s := newStore(t, sqlite.Config{Path: path, GCBatch: many, GCTarget: -1, Timeout: time.Minute})
	ctx := context.Background()
	now := time.Now()
	if err := sqlite.BulkExpired(ctx, s, many, now.Add(-time.Minute), "gc-user"); err != nil {
		t.Fatal(err)
	}
	live := seed(t, s, 1, now.Add(time.Hour), "")[0]
	db := rawDB(t, path)

	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := s.GC(ctx, now)
		done <- result{n, err}
	}()
	for !sqlite.WriterBusy(s) {
		time.Sleep(100 * time.Microsecond)
	}
	time.Sleep(5 * time.Millisecond) // well into the batch
	next := live.Clone()
	next.Version++
	if err := s.Update(ctx, next, live.Version); err != nil {
		t.Fatalf("Update during GC: %v", err)
	}
	left := count(t, db, `SELECT count(*) FROM sessions WHERE expires <= ?`, now.UnixMicro())
	if left != many {
		t.Fatalf("the update returned once the batch had deleted %d rows: it waited for the batch instead of the batch yielding", many-left)
	}
	r := <-done
	if r.err != nil || r.n != many {
		t.Fatalf("GC = %d, %v; want %d, nil", r.n, r.err, many)
	}
	if got := count(t, db, `SELECT count(*) FROM sessions`); got != 1 {
		t.Fatalf("%d sessions left, want the live one", got)
	}
	if got, err := s.Load(ctx, live.ID); err != nil || got.Version != next.Version {
		t.Fatalf("Load of the updated record = %v, %v; want version %d", got, err, next.Version)
	}
	if sync, err := sqlite.WriterSynchronous(ctx, s); err != nil || sync != 2 {
		t.Fatalf("writer synchronous after GC = %d, %v; want 2 (FULL)", sync, err)
	}
}

// TestGCReportsFallingBehind: a sweep that takes longer than the span of
// expiry times it covered says so (GCBacklog, and a warning), with the
// records that expired meanwhile; one that keeps up again says that too.
func TestGCReportsFallingBehind(t *testing.T) {
	var logs testkit.Buffer
	s := newStore(t, sqlite.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	base := time.Now().Truncate(time.Second)
	sweep := func(cut time.Time, wantN, wantLeft int, wantBehind bool, wantLog string) {
		t.Helper()
		logs.Reset()
		if n, err := s.GC(ctx, cut); n != wantN || err != nil {
			t.Fatalf("GC = %d, %v; want %d, nil", n, err, wantN)
		}
		if left, behind := s.GCBacklog(); left != wantLeft || behind != wantBehind {
			t.Fatalf("GCBacklog() = %d, %v; want %d, %v", left, behind, wantLeft, wantBehind)
		}
		if got := logs.String(); !strings.Contains(got, wantLog) || (wantLog == "" && got != "") {
			t.Fatalf("logged %q, want %q", got, wantLog)
		}
	}
	if err := sqlite.BulkExpired(ctx, s, 500, base.Add(-time.Minute), "u"); err != nil {
		t.Fatal(err)
	}
	seed(t, s, 7, base.Add(time.Microsecond), "")   // expire while the first sweep runs
	seed(t, s, 5, base.Add(3*time.Microsecond), "") // expire while the second runs
	// The first sweep covers all of history: not judged.
	sweep(base, 500, 12, false, "")
	// The second covers 2µs of expiries and takes far longer: behind.
	sweep(base.Add(2*time.Microsecond), 7, 5, true, "level=WARN msg=\"sqlite session store: GC is falling behind")
	// The third covers an hour in a few milliseconds: caught up.
	sweep(base.Add(time.Hour), 5, 0, false, "GC keeps up again")
}

// TestExpiredUnsweptIsRefused: see storetest.ExpiredUnswept.
func TestExpiredUnsweptIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := newStore(t, sqlite.Config{Path: path})
	db := rawDB(t, path)
	storetest.ExpiredUnswept(t, s, func(t *testing.T, at time.Time) int {
		return count(t, db, `SELECT count(*) FROM sessions WHERE expires <= ?`, at.UnixMicro())
	})
}

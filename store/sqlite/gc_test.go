package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

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

package postgres_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/postgres"
	"github.com/sessiond/sessiond/store/storetest"
)

// bulkExpired inserts n records expiring at exp straight into schema's
// tables (one statement, generated server-side), each with two ID rows and
// every tenth with user. Their blob is a valid record shared by all.
func bulkExpired(t testing.TB, url, schema string, n int, exp time.Time, user string) {
	t.Helper()
	blob, err := session.MarshalRecord(&session.Record{Ref: "bulk", Version: 1, Expires: exp, User: user})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err = execSQL(ctx, url, `WITH s AS (
			INSERT INTO `+schema+`.sessiond_sessions (ref, user_id, expires, version, blob, kv, requests)
			SELECT 'bulk-' || md5(random()::text), CASE WHEN g % 10 = 0 THEN $2 END, $3, 1, $4, '{}', 0
			FROM generate_series(1, $1) AS g
			RETURNING id)
		INSERT INTO `+schema+`.sessiond_ids (hash, sid)
		SELECT sha256(int8send(s.id) || k), s.id FROM s, (VALUES ('\x00'::bytea), ('\x01'::bytea)) AS v(k)`,
		n, user, exp, blob)
	if err != nil {
		t.Fatalf("bulk insert: %v", err)
	}
}

// TestGCDeletesExpiredInBatches: GC removes every expired record and its
// ID rows, batch after batch, and keeps live and never-expiring ones.
func TestGCDeletesExpiredInBatches(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	cases := []struct {
		name           string
		expired, batch int
	}{
		{"20000 rows in batches of 1000", 20000, 0},
		{"exact multiple of the batch", 2000, 500},
		{"one partial batch", 7, 1000},
		{"batch of one", 25, 1},
		{"nothing expired", 0, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := testenv.PostgresURL(t)
			schema := freshSchema(t, url)
			s := newStore(t, postgres.Config{URL: url, Schema: schema, GCBatch: tc.batch})
			ctx := context.Background()
			user := "u-" + t.Name()
			bulkExpired(t, url, schema, tc.expired, now.Add(-time.Minute), user)
			var keep []*session.Record
			for i, exp := range []time.Time{now.Add(time.Hour), {}, now.Add(time.Microsecond), now.Add(time.Hour)} {
				r := storetest.NewRecord()
				r.Expires, r.User = exp, user
				r.Aliases = []session.Alias{{Hash: storetest.NewRecord().ID}}
				if i == 3 {
					r.User = ""
				}
				if err := s.Create(ctx, r); err != nil {
					t.Fatal(err)
				}
				keep = append(keep, r)
			}
			edge := storetest.NewRecord() // expiring exactly at now: expired
			edge.Expires = now
			if err := s.Create(ctx, edge); err != nil {
				t.Fatal(err)
			}

			n, err := s.GC(ctx, now)
			if err != nil {
				t.Fatalf("GC: %v", err)
			}
			if n != tc.expired+1 {
				t.Fatalf("GC deleted %d, want %d", n, tc.expired+1)
			}
			if got := queryInt(t, url, `SELECT count(*) FROM `+schema+`.sessiond_sessions`); got != len(keep) {
				t.Fatalf("%d sessions left, want %d", got, len(keep))
			}
			if got := queryInt(t, url, `SELECT count(*) FROM `+schema+`.sessiond_ids`); got != 2*len(keep) {
				t.Fatalf("%d ID rows left, want %d (no orphans)", got, 2*len(keep))
			}
			for _, r := range keep {
				if _, err := s.Load(ctx, r.Aliases[0].Hash); err != nil {
					t.Fatalf("live record lost: %v", err)
				}
			}
			if _, err := s.Load(ctx, edge.ID); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("record expiring exactly at now: Load = %v, want ErrNotFound", err)
			}
			if list, err := s.ListUser(ctx, user); err != nil || len(list) != 3 {
				t.Fatalf("ListUser after GC = %d records, %v; want 3", len(list), err)
			}
			if n, err := s.GC(ctx, now); n != 0 || err != nil {
				t.Fatalf("second GC = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

func TestGCStopsWhenContextEnds(t *testing.T) {
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	s := newStore(t, postgres.Config{URL: url, Schema: schema, GCBatch: 10})
	now := time.Now()
	bulkExpired(t, url, schema, 100, now.Add(-time.Minute), "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := s.GC(ctx, now); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("GC with a canceled context = %d, %v; want 0, context.Canceled", n, err)
	}
	if n, err := s.GC(context.Background(), now); n != 100 || err != nil {
		t.Fatalf("GC = %d, %v; want 100, nil", n, err)
	}
}

// TestGCSkipsLockedRows: a record a request is updating (row locked in an
// open transaction) does not make GC wait; it is collected next time.
func TestGCSkipsLockedRows(t *testing.T) {
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	s := newStore(t, postgres.Config{URL: url, Schema: schema})
	ctx := context.Background()
	now := time.Now()
	bulkExpired(t, url, schema, 10, now.Add(-time.Minute), "")
	c, tx := beginTx(t, url)
	defer c.Close(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM `+schema+`.sessiond_sessions ORDER BY id LIMIT 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if n, err := s.GC(ctx, now); n != 9 || err != nil {
		t.Fatalf("GC beside a locked row = %d, %v; want 9, nil", n, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("GC waited %v for the locked row", took)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.GC(ctx, now); n != 1 || err != nil {
		t.Fatalf("GC after the lock = %d, %v; want 1, nil", n, err)
	}
}

// TestGCReportsFallingBehind: a sweep that takes longer than the span of
// expiry times it covered says so (GCBacklog, and a warning), with the
// records that expired meanwhile; one that keeps up again says that too.
func TestGCReportsFallingBehind(t *testing.T) {
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	var logs testkit.Buffer
	s := newStore(t, postgres.Config{URL: url, Schema: schema, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	base := time.Now().Truncate(time.Second)
	sweep := func(cut time.Time, wantN, wantLeft int, wantBehind bool, wantLog string) {
		t.Helper()
		from := len(logs.String())
		if n, err := s.GC(ctx, cut); n != wantN || err != nil {
			t.Fatalf("GC = %d, %v; want %d, nil", n, err, wantN)
		}
		if left, behind := s.GCBacklog(); left != wantLeft || behind != wantBehind {
			t.Fatalf("GCBacklog() = %d, %v; want %d, %v", left, behind, wantLeft, wantBehind)
		}
		if got := logs.String()[from:]; !strings.Contains(got, wantLog) || (wantLog == "" && got != "") {
			t.Fatalf("logged %q, want %q", got, wantLog)
		}
	}
	bulkExpired(t, url, schema, 500, base.Add(-time.Minute), "u")
	bulkExpired(t, url, schema, 7, base.Add(time.Microsecond), "u")   // expire while the first sweep runs
	bulkExpired(t, url, schema, 5, base.Add(3*time.Microsecond), "u") // expire while the second runs
	// The first sweep covers all of history: not judged.
	sweep(base, 500, 12, false, "")
	// The second covers 2µs of expiries and takes far longer: behind.
	sweep(base.Add(2*time.Microsecond), 7, 5, true, "level=WARN msg=\"postgres session store: GC is falling behind")
	// The third covers an hour in a few milliseconds: caught up.
	sweep(base.Add(time.Hour), 5, 0, false, "GC keeps up again")
}

// TestExpiredUnsweptIsRefused: see storetest.ExpiredUnswept.
func TestExpiredUnsweptIsRefused(t *testing.T) {
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	s := newStore(t, postgres.Config{URL: url, Schema: schema})
	storetest.ExpiredUnswept(t, s, func(t *testing.T, at time.Time) int {
		return queryInt(t, url, `SELECT count(*) FROM `+schema+`.sessiond_sessions WHERE expires <= $1`, at)
	})
}

// TestGCBatchRechecksExpiry: GC reads the ids to delete ahead of the batch
// that deletes them; a record renewed in between (no longer expired at the
// sweep's cut-off) is left alone, the others are deleted with their ID rows.
func TestGCBatchRechecksExpiry(t *testing.T) {
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	s := newStore(t, postgres.Config{URL: url, Schema: schema})
	ctx := context.Background()
	now := time.Now()
	renewed, expired := storetest.NewRecord(), storetest.NewRecord()
	renewed.Expires, expired.Expires = now.Add(time.Hour), now.Add(-time.Minute)
	for _, r := range []*session.Record{renewed, expired} {
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	id := func(r *session.Record) int64 {
		return int64(queryInt(t, url, `SELECT id FROM `+schema+`.sessiond_sessions WHERE ref = $1`, r.Ref))
	}
	n, err := postgres.GCBatch(s, ctx, now, []int64{id(renewed), id(expired)})
	if n != 1 || err != nil {
		t.Fatalf("GC batch = %d, %v; want 1, nil", n, err)
	}
	if _, err := s.Load(ctx, renewed.ID); err != nil {
		t.Fatalf("renewed record: %v", err)
	}
	if _, err := s.Load(ctx, expired.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("expired record: %v, want ErrNotFound", err)
	}
}

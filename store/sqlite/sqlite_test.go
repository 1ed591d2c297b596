package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/sqlstore"
	"github.com/sessiond/sessiond/store/sqlite"
	"github.com/sessiond/sessiond/store/storetest"
)

// quiet drops the stores' log lines (migrations on every fresh file).
var quiet = slog.New(slog.DiscardHandler)

// newStore opens a store on a fresh file (unless cfg.Path is set) and
// closes it when the test ends.
func newStore(t testing.TB, cfg sqlite.Config) *sqlite.Store {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "sessions.db")
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s, err := sqlite.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("sqlite.New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens path directly, for checks that look under the store.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(t, sqlite.Config{}) })
}

func TestNewRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		cfg  sqlite.Config
		want string // substring of the error
	}{
		{"no path", sqlite.Config{}, "Path is required"},
		{"memory", sqlite.Config{Path: ":memory:"}, "plain file path"},
		{"uri", sqlite.Config{Path: "file:x.db?mode=memory"}, "plain file path"},
		{"query in path", sqlite.Config{Path: dir + "/a?b.db"}, "contains '?'"},
		{"negative timeout", sqlite.Config{Path: dir + "/a.db", Timeout: -time.Second}, "must not be negative"},
		{"negative busy timeout", sqlite.Config{Path: dir + "/a.db", BusyTimeout: -1}, "must not be negative"},
		{"bad synchronous", sqlite.Config{Path: dir + "/a.db", Synchronous: "OFF"}, "Synchronous"},
		{"negative read conns", sqlite.Config{Path: dir + "/a.db", ReadConns: -1}, "ReadConns"},
		{"negative gc batch", sqlite.Config{Path: dir + "/a.db", GCBatch: -5}, "GCBatch"},
		{"missing directory", sqlite.Config{Path: dir + "/no/such/dir/a.db"}, "open"},
		{"not a database", sqlite.Config{Path: writeFile(t, dir, "junk.db", strings.Repeat("not sqlite ", 500))}, "not a database"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.New(context.Background(), tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadInputIsAnErrorNotAPanic(t *testing.T) {
	storetest.BadInput(t, newStore(t, sqlite.Config{}), sqlstore.ErrBadRecord)
}

func TestReopenKeepsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reopen.db")
	ctx := context.Background()
	s, err := sqlite.New(ctx, sqlite.Config{Path: path, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r := storetest.NewRecord()
	r.User = "erin"
	r.Aliases = []session.Alias{{Hash: storetest.NewRecord().ID, Until: r.Created}}
	want := r.Clone()
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t, sqlite.Config{Path: path})
	for _, h := range want.Hashes() {
		got, err := s2.Load(ctx, h)
		if err != nil {
			t.Fatalf("Load after reopen: %v", err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(time.Microsecond)); diff != "" {
			t.Fatalf("record changed across reopen (-want +got):\n%s", diff)
		}
	}
	db := rawDB(t, path)
	if n := count(t, db, `SELECT count(*) FROM schema_version`); n != 1 {
		t.Fatalf("schema_version has %d rows after two opens, want 1", n)
	}
	if v := count(t, db, `SELECT version FROM schema_version`); v != sqlite.SchemaVersion {
		t.Fatalf("schema version %d, want %d", v, sqlite.SchemaVersion)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	s := newStore(t, sqlite.Config{Path: path})
	s.Close()
	if _, err := rawDB(t, path).Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	s2, err := sqlite.New(context.Background(), sqlite.Config{Path: path, Logger: quiet})
	if err == nil {
		s2.Close()
		t.Fatal("New opened a database with a newer schema")
	}
	if !strings.Contains(err.Error(), "schema version 99 is newer") {
		t.Fatalf("error %q does not explain the schema version", err)
	}
}

// TestLockedDatabaseIsUnavailable: another process (here: another
// connection) holds the write lock past the timeouts. Writes fail with
// ErrUnavailable in bounded time, reads keep working (WAL), and the same
// Store writes again once the lock is released.
func TestLockedDatabaseIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	const timeout = 300 * time.Millisecond
	s := newStore(t, sqlite.Config{Path: path, Timeout: timeout})
	ctx := context.Background()
	r := storetest.NewRecord()
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	// patient waits longer for SQLite's lock than its operations may take:
	// its in-place merge then runs under the operation's context.
	patient := newStore(t, sqlite.Config{Path: path, Timeout: timeout, BusyTimeout: 10 * timeout})
	other := rawDB(t, path)
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	next := r.Clone()
	next.Version = 2
	writes := []struct {
		name string
		op   func() error
	}{
		{"update", func() error { return s.Update(ctx, next, 1) }},
		// The most common write: one UPDATE, run without a context the
		// driver watches (its lock wait is bounded by BusyTimeout).
		{"merge in place", func() error { return s.Merge(ctx, storetest.SetChange(r, "k", "v")) }},
		{"merge in place, busy timeout past timeout", func() error { return patient.Merge(ctx, storetest.SetChange(r, "k", "v")) }},
		{"create", func() error { return s.Create(ctx, storetest.NewRecord()) }},
		{"delete", func() error { return s.Delete(ctx, r.Ref) }},
		{"gc", func() error { _, err := s.GC(ctx, time.Now().Add(48*time.Hour)); return err }},
	}
	for _, tc := range writes {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.op()
			if took := time.Since(start); took > timeout+time.Second {
				t.Errorf("took %v, want about %v", took, timeout)
			}
			if !errors.Is(err, session.ErrUnavailable) {
				t.Fatalf("got %v, want ErrUnavailable", err)
			}
		})
	}
	if got, err := s.Load(ctx, r.ID); err != nil || got.Version != 1 {
		t.Fatalf("Load while locked = %v, %v; want version 1 (WAL readers are not blocked)", got, err)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if err := s.Merge(ctx, storetest.SetChange(r, "k", "v")); err != nil {
		t.Fatalf("Merge after the lock was released: %v", err)
	}
	if got, err := s.Load(ctx, r.ID); err != nil || got.Version != 2 || got.Data["k"] != "v" {
		t.Fatalf("Load after the merge = %+v, %v; want version 2 with k=v", got, err)
	}
}

// TestMergeInPlaceStatementsPreparedOnce: the in-place merge runs its
// UPDATE through statements prepared once on the writer connection, and a
// store sharing the file sees every merge.
func TestMergeInPlaceStatementsPreparedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.db")
	s := newStore(t, sqlite.Config{Path: path})
	other := newStore(t, sqlite.Config{Path: path})
	ctx := context.Background()
	r := storetest.NewRecord()
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		c := storetest.SetChange(r, "n", strconv.Itoa(i))
		if i%2 == 1 {
			c.Next.User = "user-" + strconv.Itoa(i) // the statement that also sets the user
		}
		if err := s.Merge(ctx, c); err != nil {
			t.Fatalf("merge %d: %v", i, err)
		}
		got, err := other.Load(ctx, r.ID)
		if err != nil || got.Version != c.Next.Version || got.Data["n"] != strconv.Itoa(i) || got.User != c.Next.User {
			t.Fatalf("after merge %d the other store loads %+v, %v; want version %d, n=%d, user %q",
				i, got, err, c.Next.Version, i, c.Next.User)
		}
		r = c.Next
	}
	if n := sqlite.RawPrepared(s); n != 2 {
		t.Errorf("the in-place merge prepared %d statements for 50 merges, want 2 (one per UPDATE)", n)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s, err := sqlite.New(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // Close is idempotent
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	ctx := context.Background()
	ops := []struct {
		name string
		op   func() error
	}{
		{"load", func() error { _, err := s.Load(ctx, storetest.NewRecord().ID); return err }},
		{"create", func() error { return s.Create(ctx, storetest.NewRecord()) }},
		{"merge", func() error { return s.Merge(ctx, storetest.SetChange(storetest.NewRecord(), "k", "v")) }},
		{"gc", func() error { _, err := s.GC(ctx, time.Now()); return err }},
	}
	for _, tc := range ops {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, session.ErrUnavailable) {
				t.Fatalf("got %v, want ErrUnavailable", err)
			}
		})
	}
}

// TestBackgroundCheckpoint: commits only append to the WAL (automatic
// checkpoints are off on the writer); the background checkpointer copies
// them into the database file soon after, without any request doing it.
func TestBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt.db")
	s := newStore(t, sqlite.Config{Path: path})
	recs := make([]*session.Record, 300)
	for i := range recs {
		recs[i] = storetest.NewRecord()
		recs[i].Data = map[string]string{"pad": strings.Repeat("x", 1000)}
	}
	if err := sqlite.BulkCreate(context.Background(), s, recs); err != nil {
		t.Fatal(err)
	}
	const want = 300 * 1000 // the records' data alone
	deadline := time.Now().Add(5 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file is %d bytes 5s after the commit, want at least %d: nothing checkpointed the WAL", fi.Size(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWALBoundedUnderSteadyWrites: commits back to back, with no pause
// for a background checkpoint to catch up, still let the WAL start over:
// it stays near the restart bound instead of growing with every commit
// (it reached 66 MB after 8,000 small updates before the checkpointer
// finished checkpoints on the writer).
func TestWALBoundedUnderSteadyWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "steady.db")
	s := newStore(t, sqlite.Config{Path: path})
	ctx := context.Background()
	rec := storetest.NewRecord()
	rec.Data = map[string]string{"n": "0"}
	if err := s.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// Each update writes two or three pages; 6,000 of them write 48 MB or
	// more of WAL frames. A WAL that starts over stays within a few
	// restart bounds (1,000 frames, about 4 MiB each).
	const updates = 6000
	const bound = 16 << 20
	var largest int64
	for i := range updates {
		next := *rec
		next.Data = map[string]string{"n": strconv.Itoa(i + 1)}
		next.Version = rec.Version + 1
		if err := s.Update(ctx, &next, rec.Version); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		rec = &next
		if i%100 == 0 {
			if fi, err := os.Stat(path + "-wal"); err == nil {
				largest = max(largest, fi.Size())
			}
		}
	}
	t.Logf("largest WAL seen over %d updates: %d bytes", updates, largest)
	if largest > bound {
		t.Fatalf("WAL grew to %d bytes over %d back-to-back updates, want at most %d: it never started over", largest, updates, bound)
	}
}

func TestStateConformance(t *testing.T) {
	storetest.State(t, func(t *testing.T) func(t *testing.T) storetest.StateStore {
		path := filepath.Join(t.TempDir(), "sessions.db")
		return func(t *testing.T) storetest.StateStore { return newStore(t, sqlite.Config{Path: path}) }
	})
}

package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/remember"
	rememberstoretest "github.com/sessiond/sessiond/remember/storetest"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/sqlstore"
	"github.com/sessiond/sessiond/store/postgres"
	"github.com/sessiond/sessiond/store/storetest"
)

// freshSchema returns a schema name no test has used; it is dropped (with
// everything in it) when the test ends.
func freshSchema(t testing.TB, url string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "sessiond_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := execSQL(ctx, url, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
		}
	})
	return schema
}

// execSQL runs one statement on its own connection, beside the store.
func execSQL(ctx context.Context, url, sql string, args ...any) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql, args...)
	return err
}

// beginTx opens a connection beside the store with a transaction open.
func beginTx(t testing.TB, url string) (*pgx.Conn, pgx.Tx) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		c.Close(ctx)
		t.Fatal(err)
	}
	return c, tx
}

func queryInt(t testing.TB, url, sql string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// quiet drops the stores' log lines (migrations in every fresh schema).
var quiet = slog.New(slog.DiscardHandler)

// newStore opens a store on the test server in a fresh schema (unless
// cfg.Schema is set) and closes it when the test ends.
func newStore(t testing.TB, cfg postgres.Config) *postgres.Store {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = testenv.PostgresURL(t)
	}
	if cfg.Schema == "" {
		cfg.Schema = freshSchema(t, cfg.URL)
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s, err := postgres.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("postgres.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(t, postgres.Config{}) })
}

func TestNewRejectsBadConfig(t *testing.T) {
	url := "postgres://postgres@127.0.0.1:1/test"
	cases := []struct {
		name string
		cfg  postgres.Config
		want string
	}{
		{"no url", postgres.Config{}, "URL is required"},
		{"unparsable url", postgres.Config{URL: "postgres://%zz"}, "Config.URL"},
		{"schema with quote", postgres.Config{URL: url, Schema: `x"; DROP TABLE y; --`}, "Config.Schema"},
		{"upper-case schema", postgres.Config{URL: url, Schema: "Sessions"}, "Config.Schema"},
		{"long schema", postgres.Config{URL: url, Schema: strings.Repeat("s", 64)}, "Config.Schema"},
		{"prefix with dot", postgres.Config{URL: url, TablePrefix: "a.b_"}, "Config.TablePrefix"},
		{"long prefix", postgres.Config{URL: url, TablePrefix: strings.Repeat("p", 44)}, "Config.TablePrefix"},
		{"negative timeout", postgres.Config{URL: url, Timeout: -1}, "must not be negative"},
		{"negative connect timeout", postgres.Config{URL: url, ConnectTimeout: -1}, "must not be negative"},
		{"negative max conns", postgres.Config{URL: url, MaxConns: -1}, "must not be negative"},
		{"negative gc batch", postgres.Config{URL: url, GCBatch: -1}, "GCBatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.New(context.Background(), tc.cfg)
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

func TestNewWithoutServerIsUnavailable(t *testing.T) {
	port := testenv.FreePort(t) // nothing listens there
	start := time.Now()
	s, err := postgres.New(context.Background(), postgres.Config{
		URL:     fmt.Sprintf("postgres://postgres@127.0.0.1:%d/test?sslmode=disable", port),
		Timeout: 500 * time.Millisecond,
		Logger:  quiet,
	})
	if err == nil {
		s.Close()
		t.Fatal("New succeeded without a server")
	}
	if !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("New error %v does not wrap ErrUnavailable", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("New took %v to give up", took)
	}
}

func TestBadInputIsAnErrorNotAPanic(t *testing.T) {
	storetest.BadInput(t, newStore(t, postgres.Config{}), sqlstore.ErrBadRecord)
}

// TestConcurrentOpenMigratesOnce: stores opening a new schema at the same
// moment (as several gateways starting together) all succeed; the
// advisory lock makes exactly one of them create the tables.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	const n = 8
	var wg sync.WaitGroup
	var logs testkit.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	errs := make([]error, n)
	stores := make([]*postgres.Store, n)
	for i := range n {
		wg.Go(func() {
			stores[i], errs[i] = postgres.New(context.Background(), postgres.Config{URL: url, Schema: schema, Logger: logger})
		})
	}
	wg.Wait()
	if got := strings.Count(logs.String(), "schema migrated"); got != 1 {
		t.Errorf("%d stores migrated the schema, want exactly 1; log:\n%s", got, logs.String())
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	r := storetest.NewRecord()
	if err := stores[0].Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[n-1].Load(context.Background(), r.ID); err != nil {
		t.Fatalf("a record created through one store is not visible through another: %v", err)
	}
	if got := queryInt(t, url, `SELECT count(*) FROM `+schema+`.sessiond_schema_version`); got != 1 {
		t.Fatalf("schema_version has %d rows, want 1", got)
	}
	if got := queryInt(t, url, `SELECT version FROM `+schema+`.sessiond_schema_version`); got != postgres.SchemaVersion {
		t.Fatalf("schema version %d, want %d", got, postgres.SchemaVersion)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	newStore(t, postgres.Config{URL: url, Schema: schema}).Close()
	if err := execSQL(context.Background(), url, `UPDATE `+schema+`.sessiond_schema_version SET version = 42`); err != nil {
		t.Fatal(err)
	}
	s2, err := postgres.New(context.Background(), postgres.Config{URL: url, Schema: schema, Logger: quiet})
	if err == nil {
		s2.Close()
		t.Fatal("New opened a schema newer than it knows")
	}
	if !strings.Contains(err.Error(), "schema version 42 is newer") {
		t.Fatalf("error %q does not explain the schema version", err)
	}
}

// TestPrefixesAreIsolated: two stores in one schema with different table
// prefixes share nothing.
func TestPrefixesAreIsolated(t *testing.T) {
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	a := newStore(t, postgres.Config{URL: url, Schema: schema, TablePrefix: "a_"})
	b := newStore(t, postgres.Config{URL: url, Schema: schema, TablePrefix: "b_"})
	ctx := context.Background()
	r := storetest.NewRecord()
	if err := a.Create(ctx, r.Clone()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(ctx, r.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("store b sees store a's record: %v", err)
	}
	if err := b.Create(ctx, r.Clone()); err != nil {
		t.Fatalf("same ref and hash under another prefix: %v", err)
	}
	for _, table := range []string{"a_sessions", "a_ids", "b_sessions", "b_ids"} {
		if n := queryInt(t, url, `SELECT count(*) FROM `+schema+`.`+table); n < 1 {
			t.Fatalf("table %s is empty", table)
		}
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	url := testenv.PostgresURL(t)
	s, err := postgres.New(context.Background(), postgres.Config{URL: url, Schema: freshSchema(t, url), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close() // idempotent
	ctx := context.Background()
	ops := []struct {
		name string
		op   func() error
	}{
		{"load", func() error { _, err := s.Load(ctx, storetest.NewRecord().ID); return err }},
		{"create", func() error { return s.Create(ctx, storetest.NewRecord()) }},
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

func TestStateConformance(t *testing.T) {
	storetest.State(t, func(t *testing.T) func(t *testing.T) storetest.StateStore {
		url := testenv.PostgresURL(t)
		schema := freshSchema(t, url)
		return func(t *testing.T) storetest.StateStore {
			return newStore(t, postgres.Config{URL: url, Schema: schema})
		}
	})
}

func TestRememberConformance(t *testing.T) {
	rememberstoretest.Run(t, func(t *testing.T) remember.Store {
		r, err := newStore(t, postgres.Config{}).Remember(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}

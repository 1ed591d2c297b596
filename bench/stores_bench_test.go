package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/mattn/go-sqlite3"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/postgres"
	"github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/sqlite"
)

// backend is one server-side storage engine with sessiond's store and
// scs's store for it, set up with the same durability.
type backend struct {
	name     string
	sessiond session.Store
	scs      scs.Store
}

// sqliteBackend: both in WAL mode with synchronous=FULL (every commit
// fsyncs: sessiond's default, set explicitly for scs's sqlite3store on
// mattn/go-sqlite3), each in a database file of its own in one directory.
func sqliteBackend(b *testing.B) backend {
	dir := b.TempDir()
	st, err := sqlite.New(context.Background(), sqlite.Config{Path: filepath.Join(dir, "sessiond.db")})
	if err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "scs.db")+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL);
		CREATE INDEX sessions_expiry_idx ON sessions(expiry);`); err != nil {
		b.Fatal(err)
	}
	return backend{"sqlite", st, sqlite3store.NewWithCleanupInterval(db, 0)}
}

// redisBackend: the same server, two key prefixes.
func redisBackend(b *testing.B) backend {
	raw := testenv.RedisURL(b)
	prefix := fmt.Sprintf("bench:%d:", time.Now().UnixNano())
	st, err := redis.New(redis.Config{URL: raw, Prefix: "sessiond:" + prefix})
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(raw)
	pool := &redigo.Pool{MaxIdle: 10, Dial: func() (redigo.Conn, error) { return redigo.DialURL(u.String()) }}
	b.Cleanup(func() { pool.Close() })
	return backend{"redis", st, redisstore.NewWithPrefix(pool, "scs:"+prefix)}
}

// postgresBackend: the same server and database, a schema each;
// synchronous_commit is the server's (on) for both.
func postgresBackend(b *testing.B) backend {
	raw := testenv.PostgresURL(b)
	ctx := context.Background()
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	st, err := postgres.New(ctx, postgres.Config{URL: raw, Schema: schema + "_sessiond"})
	if err != nil {
		b.Fatal(err)
	}
	admin, err := pgxpool.New(ctx, raw)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{
		`CREATE SCHEMA ` + schema + `_scs`,
		`CREATE TABLE ` + schema + `_scs.sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`,
		`CREATE INDEX ON ` + schema + `_scs.sessions (expiry)`,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		if a, err := pgxpool.New(context.Background(), raw); err == nil {
			a.Exec(context.Background(), `DROP SCHEMA `+schema+`_scs CASCADE`)
			a.Exec(context.Background(), `DROP SCHEMA `+schema+`_sessiond CASCADE`)
			a.Close()
		}
	})
	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		b.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema + "_scs"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return backend{"postgres", st, pgxstore.NewWithCleanupInterval(pool, 0)}
}

// BenchmarkStores puts sessiond's server-side stores beside scs v2.9.0's
// stores for the same engines, through each library's middleware with the
// handlers of the in-memory comparison (a session of five keys; read-only:
// read one; modifying: increment a counter). sessiond's modifying request
// is a load plus a merge (session.Merger). Run it with -count and compare
// the pairs of one run (see BENCHMARKS.md).
func BenchmarkStores(b *testing.B) {
	for _, be := range []struct {
		name string
		make func(*testing.B) backend
	}{{"sqlite", sqliteBackend}, {"redis", redisBackend}, {"postgres", postgresBackend}} {
		// Inside b.Run so -bench that leaves a backend out does not set it up.
		b.Run(be.name, func(b *testing.B) {
			st := be.make(b)
			for _, s := range []*subject{sessiondSubject(b, st.sessiond), scsWith(st.scs)} {
				b.Run(s.name+"/read-only", readOnly(s))
				b.Run(s.name+"/modify", modify(s))
			}
		})
	}
}

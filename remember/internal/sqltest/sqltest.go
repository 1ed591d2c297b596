// Package sqltest opens real SQLite and PostgreSQL databases for the
// remember tests, each test on its own table that is dropped afterwards.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/remember/sqlstore"
)

// DB is an initialized store on its own table.
type DB struct {
	DB    *sql.DB
	Store *sqlstore.Store
	Table string
}

// SQLite opens a fresh database file in t.TempDir().
func SQLite(t testing.TB) DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "remember.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return open(t, db, sqlstore.SQLite, "remember_keys")
}

// Postgres connects to the test server (internal/testenv) and uses a table
// with a random name, dropped in cleanup.
func Postgres(t testing.TB) DB {
	t.Helper()
	db, err := sql.Open("pgx", testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		testenv.Unavailable(t, "postgres: %v", err)
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	table := "remember_test_" + hex.EncodeToString(suffix[:])
	t.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+table); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
	})
	return open(t, db, sqlstore.Postgres, table)
}

func open(t testing.TB, db *sql.DB, d sqlstore.Dialect, table string) DB {
	t.Helper()
	s, err := sqlstore.New(db, sqlstore.Config{Dialect: d, Table: table})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return DB{DB: db, Store: s, Table: table}
}

// Dump returns every row of the table as strings, the way someone with a
// copy of the database would read it.
func (d DB) Dump(t testing.TB) [][]string {
	t.Helper()
	rows, err := d.DB.QueryContext(context.Background(), "SELECT * FROM "+d.Table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = cols[i] + "=" + v.String
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

package sqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/remember/internal/sqltest"
	"github.com/sessiond/sessiond/remember/sqlstore"
	"github.com/sessiond/sessiond/remember/storetest"
)

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		open func(testing.TB) sqltest.DB
	}{
		{"SQLite", sqltest.SQLite},
		{"PostgreSQL", sqltest.Postgres},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) remember.Store { return tc.open(t).Store })
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	db := &sql.DB{}
	tests := []struct {
		name string
		db   *sql.DB
		cfg  sqlstore.Config
	}{
		{"nil db", nil, sqlstore.Config{Dialect: sqlstore.SQLite}},
		{"no dialect", db, sqlstore.Config{}},
		{"SQL in the table name", db, sqlstore.Config{Dialect: sqlstore.SQLite, Table: "keys; DROP TABLE users"}},
		{"quoted table name", db, sqlstore.Config{Dialect: sqlstore.Postgres, Table: `"keys"`}},
		{"three-part name", db, sqlstore.Config{Dialect: sqlstore.Postgres, Table: "a.b.c"}},
		{"leading digit", db, sqlstore.Config{Dialect: sqlstore.Postgres, Table: "1keys"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := sqlstore.New(tc.db, tc.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

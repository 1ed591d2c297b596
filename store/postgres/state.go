package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/remember/sqlstore"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/sqlstate"
)

// The store's companions live in the same database and schema, under the
// same table prefix, on the same connection pool as its sessions:
// one-time claims and named secrets (tables <prefix>claims and
// <prefix>secrets) and remember-me keys (<prefix>remember_keys). Each is
// made on first use.

var errClosed = fmt.Errorf("postgres: %w: the store is closed", session.ErrUnavailable)

// companions are made once per Store.
type companions struct {
	once     sync.Once
	db       *sql.DB // database/sql over the store's pool
	state    *sqlstate.State
	mu       sync.Mutex
	remember *sqlstore.Store
	certs    *CertStore
}

// sqlDB makes the companions' database handle on first use; nil once the
// store is closed.
func (s *Store) sqlDB() *sql.DB {
	s.comp.once.Do(func() {
		s.comp.db = stdlib.OpenDBFromPool(s.pool)
		s.comp.state = sqlstate.New(sqlstate.Config{DB: s.comp.db,
			Claims: ident(s.schema, s.prefix+"claims"), Secrets: ident(s.schema, s.prefix+"secrets"),
			Index: ident(s.prefix + "claims_until_idx"), Timeout: s.timeout, Fail: s.fail,
			Lock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", advisoryKey("state", s.schema, s.prefix))})
	})
	return s.comp.db
}

// Claim records key until until and reports whether this is its first
// claim: false while an earlier claim of key has not ended. Of concurrent
// claims of one key, by any number of processes on the database, exactly
// one is first.
func (s *Store) Claim(ctx context.Context, key string, until time.Time) (bool, error) {
	if s.sqlDB() == nil {
		return false, errClosed
	}
	return s.comp.state.Claim(ctx, key, until)
}

// ClaimedUntil returns when the claim of key ends; the zero time when key
// is not claimed.
func (s *Store) ClaimedUntil(ctx context.Context, key string) (time.Time, error) {
	if s.sqlDB() == nil {
		return time.Time{}, errClosed
	}
	return s.comp.state.ClaimedUntil(ctx, key)
}

// Secret returns the random 32-byte secret named label, made on first use
// and the same for every process on the database.
func (s *Store) Secret(ctx context.Context, label string) ([]byte, error) {
	if s.sqlDB() == nil {
		return nil, errClosed
	}
	return s.comp.state.Secret(ctx, label)
}

// Remember returns the remember-me keys kept in the database (the same
// store at every call).
func (s *Store) Remember(ctx context.Context) (remember.Store, error) {
	db := s.sqlDB()
	if db == nil {
		return nil, errClosed
	}
	s.comp.mu.Lock()
	defer s.comp.mu.Unlock()
	if s.comp.remember != nil {
		return s.comp.remember, nil
	}
	table := s.prefix + "remember_keys"
	if s.schema != "" {
		table = s.schema + "." + table
	}
	st, err := sqlstate.Remember(ctx, db, sqlstore.Config{Dialect: sqlstore.Postgres, Table: table}, s.timeout, s.fail)
	if err != nil {
		return nil, err
	}
	s.comp.remember = st
	return st, nil
}

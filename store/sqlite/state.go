package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/remember/sqlstore"
	"github.com/sessiond/sessiond/store/cookie"
	"github.com/sessiond/sessiond/store/internal/sqlstate"
)

// The store's companions live in the same file, on the same connections
// as its sessions: one-time claims and named secrets (tables claims and
// secrets), remember-me keys (table remember_keys) and, for the cookie
// store, its revocation list (the sessiond_cookie_revoked_* tables), and
// certificates (CertStore). Each is made on first use. A file opened only for a companion (the cookie
// store's revocations) gets the session tables too, empty.

// companions are made once per Store.
type companions struct {
	once     sync.Once
	state    *sqlstate.State
	mu       sync.Mutex
	remember *sqlstore.Store
	rev      *cookie.SQLRevocations
	certs    *CertStore
	watch    *ChangeWatcher
}

func (s *Store) sqlState() *sqlstate.State {
	s.comp.once.Do(func() {
		s.comp.state = sqlstate.New(sqlstate.Config{DB: s.w, ReadDB: s.r, Claims: `"claims"`, Secrets: `"secrets"`,
			Index: `"claims_until_idx"`, Timeout: s.timeout, Fail: s.fail})
	})
	return s.comp.state
}

// Claim records key until until and reports whether this is its first
// claim: false while an earlier claim of key has not ended. Of concurrent
// claims of one key, by any number of processes on the file, exactly one
// is first.
func (s *Store) Claim(ctx context.Context, key string, until time.Time) (bool, error) {
	return s.sqlState().Claim(ctx, key, until)
}

// ClaimedUntil returns when the claim of key ends; the zero time when key
// is not claimed.
func (s *Store) ClaimedUntil(ctx context.Context, key string) (time.Time, error) {
	return s.sqlState().ClaimedUntil(ctx, key)
}

// Secret returns the random 32-byte secret named label, made on first use
// and the same for every process on the file.
func (s *Store) Secret(ctx context.Context, label string) ([]byte, error) {
	return s.sqlState().Secret(ctx, label)
}

// Remember returns the remember-me keys kept in the file (the same store
// at every call).
func (s *Store) Remember(ctx context.Context) (remember.Store, error) {
	s.comp.mu.Lock()
	defer s.comp.mu.Unlock()
	if s.comp.remember != nil {
		return s.comp.remember, nil
	}
	st, err := sqlstate.Remember(ctx, s.w, sqlstore.Config{Dialect: sqlstore.SQLite}, s.timeout, s.fail)
	if err != nil {
		return nil, err
	}
	s.comp.remember = st
	return st, nil
}

// Revocations returns the cookie store's revocation list kept in the file
// (the same list at every call). Its answers are cached until anything is
// committed to the file, by any process.
func (s *Store) Revocations(ctx context.Context) (*cookie.SQLRevocations, error) {
	s.comp.mu.Lock()
	defer s.comp.mu.Unlock()
	if s.comp.rev != nil {
		return s.comp.rev, nil
	}
	w, err := WatchChanges(s.path)
	if err != nil {
		return nil, err
	}
	rev, err := cookie.NewSQLRevocations(ctx, cookie.SQLConfig{DB: s.w, ReadDB: s.r, Timeout: s.timeout, Version: w.Version})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.comp.rev, s.comp.watch = rev, w
	return rev, nil
}

// closeCompanions releases what the companions hold (not the database).
func (s *Store) closeCompanions() error {
	s.comp.mu.Lock()
	defer s.comp.mu.Unlock()
	var err error
	if s.comp.rev != nil {
		err = s.comp.rev.Close()
	}
	if s.comp.watch != nil {
		err = errors.Join(err, s.comp.watch.Close())
	}
	return err
}

// Package sqlstate keeps a SQL store's small companions to its sessions in
// two tables of the same database, for store/sqlite and store/postgres:
// one-time claims (a key claimed until a time; of concurrent claims of one
// key exactly one is first) and named secrets (32 random bytes made on
// first use, shared by every process on the database). The SQL is the
// common subset of SQLite and PostgreSQL; the tables are created on first
// use. Remember opens a remember-me store on the same database.
package sqlstate

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sessiond/sessiond/remember/sqlstore"
)

// Config says where the tables are and how the database is spoken to.
type Config struct {
	// DB is the database; its writes must be allowed.
	DB *sql.DB
	// ReadDB, if set, answers ClaimedUntil (SQLite's read-only pool,
	// beside its one writer connection); nil: DB.
	ReadDB *sql.DB
	// Claims and Secrets are the quoted (and, if need be, schema-qualified)
	// table names; Index names the claims' expiry index (unqualified).
	Claims, Secrets, Index string
	// Lock, if set, runs first in the transaction that creates the tables,
	// serialising concurrent creators (PostgreSQL's CREATE TABLE IF NOT
	// EXISTS is not safe against itself).
	Lock string
	// Timeout bounds each operation.
	Timeout time.Duration
	// Fail maps a database error of operation op to the store's errors.
	Fail func(op string, err error) error
}

// State is the two tables of one database. Safe for concurrent use.
type State struct {
	cfg                           Config
	claim, sweep, insert, select_ string
	claimed                       string

	mu    sync.Mutex
	ready bool
}

// maxKeyLen bounds claim keys and secret labels.
const maxKeyLen = 512

// sweepBatch is the most ended claims one Claim deletes.
const sweepBatch = 100

// New returns the State of cfg; it does no I/O.
func New(cfg Config) *State {
	s := &State{cfg: cfg}
	s.claim = s.sql(`INSERT INTO {c} AS c (key, until_ms) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET until_ms = excluded.until_ms WHERE c.until_ms <= $3`)
	s.sweep = s.sql(`DELETE FROM {c} WHERE key IN (SELECT key FROM {c} WHERE until_ms <= $1 LIMIT ` +
		strconv.Itoa(sweepBatch) + `)`)
	s.claimed = s.sql(`SELECT until_ms FROM {c} WHERE key = $1 AND until_ms > $2`)
	s.insert = s.sql(`INSERT INTO {s} (label, secret) VALUES ($1, $2) ON CONFLICT (label) DO NOTHING`)
	s.select_ = s.sql(`SELECT secret FROM {s} WHERE label = $1`)
	return s
}

// sql fills in the table names. Placeholders are $1, $2, ...: both
// PostgreSQL and SQLite number them so.
func (s *State) sql(q string) string {
	return strings.NewReplacer("{c}", s.cfg.Claims, "{s}", s.cfg.Secrets, "{i}", s.cfg.Index).Replace(q)
}

// ensure creates the tables once per State (again after a failure).
func (s *State) ensure(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	tx, err := s.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return s.cfg.Fail("creating the state tables", err)
	}
	defer tx.Rollback()
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS {c} (key TEXT PRIMARY KEY, until_ms BIGINT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS {i} ON {c} (until_ms)`,
		`CREATE TABLE IF NOT EXISTS {s} (label TEXT PRIMARY KEY, secret TEXT NOT NULL)`,
	}
	if s.cfg.Lock != "" {
		stmts = append([]string{s.cfg.Lock}, stmts...)
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, s.sql(q)); err != nil {
			return s.cfg.Fail("creating the state tables", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.cfg.Fail("creating the state tables", err)
	}
	s.ready = true
	return nil
}

func checkKey(what, k string) error {
	if k == "" || len(k) > maxKeyLen || !utf8.ValidString(k) || strings.ContainsRune(k, 0) {
		return fmt.Errorf("%s %q: want 1 to %d bytes of UTF-8 without NUL", what, k, maxKeyLen)
	}
	return nil
}

// Claim records key until until and reports whether this is its first
// claim: false while an earlier claim of key has not ended. It also
// deletes a few ended claims.
func (s *State) Claim(ctx context.Context, key string, until time.Time) (bool, error) {
	if err := checkKey("claim key", key); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.ensure(ctx); err != nil {
		return false, err
	}
	now := time.Now().UnixMilli()
	res, err := s.cfg.DB.ExecContext(ctx, s.claim, key, until.UnixMilli(), now)
	if err != nil {
		return false, s.cfg.Fail("claim", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.cfg.Fail("claim", err)
	}
	if n > 0 {
		// Ended claims go a few at a time, on the path that adds them; a
		// failed sweep is left to the next claim (this one stands).
		_, _ = s.cfg.DB.ExecContext(ctx, s.sweep, now)
	}
	return n > 0, nil
}

// ClaimedUntil returns when the claim of key ends; the zero time when key
// is not claimed (never, or its claim has ended).
func (s *State) ClaimedUntil(ctx context.Context, key string) (time.Time, error) {
	if err := checkKey("claim key", key); err != nil {
		return time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.ensure(ctx); err != nil {
		return time.Time{}, err
	}
	var until int64
	db := s.cfg.DB
	if s.cfg.ReadDB != nil {
		db = s.cfg.ReadDB
	}
	err := db.QueryRowContext(ctx, s.claimed, key, time.Now().UnixMilli()).Scan(&until)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, s.cfg.Fail("claimed", err)
	}
	return time.UnixMilli(until), nil
}

// Secret returns the 32-byte secret named label, made on first use. Of
// concurrent first uses one secret is kept and every caller gets it.
func (s *State) Secret(ctx context.Context, label string) ([]byte, error) {
	if err := checkKey("secret label", label); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	v, err := s.read(ctx, label)
	if errors.Is(err, sql.ErrNoRows) {
		b := make([]byte, 32)
		rand.Read(b)
		if _, err := s.cfg.DB.ExecContext(ctx, s.insert, label, hex.EncodeToString(b)); err != nil {
			return nil, s.cfg.Fail("secret", err)
		}
		v, err = s.read(ctx, label) // ours, or the one stored first
	}
	if err != nil {
		return nil, s.cfg.Fail("secret", err)
	}
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != 32 {
		return nil, s.cfg.Fail("secret", fmt.Errorf("stored secret %q is malformed", label))
	}
	return b, nil
}

func (s *State) read(ctx context.Context, label string) (string, error) {
	var v string
	err := s.cfg.DB.QueryRowContext(ctx, s.select_, label).Scan(&v)
	return v, err
}

// Remember opens the remember-me keys of cfg on db, creating their table
// if missing; fail maps a database error as Config.Fail does.
func Remember(ctx context.Context, db *sql.DB, cfg sqlstore.Config, timeout time.Duration, fail func(string, error) error) (*sqlstore.Store, error) {
	st, err := sqlstore.New(db, cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := st.Init(ctx); err != nil {
		return nil, fail("remember-me keys", err)
	}
	return st, nil
}

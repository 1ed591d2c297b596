// Package sqlstore keeps auto-login keys in SQLite or PostgreSQL through
// database/sql. It imports no driver: open the *sql.DB with
// modernc.org/sqlite ("sqlite") or github.com/jackc/pgx/v5/stdlib ("pgx").
//
// The table holds, per key: the selector (primary key), the hex SHA-256 of
// the validator, the realm and user (indexed together), and created, expires and used times as
// Unix microseconds (used is NULL until the key is consumed). The validator
// itself is never stored.
//
// Consume is one transaction whose first statement is a conditional UPDATE
// (used_at IS NULL), so of two concurrent uses of one key the database
// lets exactly one through: PostgreSQL re-checks the condition after the row
// lock, SQLite serializes writers. The session stores hand out a Store on
// their own connections (sqlite.Store.Remember, postgres.Store.Remember);
// an SQLite database opened otherwise needs a busy timeout, so concurrent
// writers wait rather than fail.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/remember"
)

// Dialect selects the SQL spelling.
type Dialect int

// Supported dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

// DefaultTable is the table name when Config.Table is empty.
const DefaultTable = "sessiond_remember_keys"

// Config configures a Store.
type Config struct {
	Dialect Dialect // required
	// Table is the table name, optionally schema-qualified ("auth.keys");
	// letters, digits and underscores only. Default DefaultTable.
	Table string
}

// Store is a remember.Store on a *sql.DB. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect Dialect
	table   string
	q       queries
}

type queries struct {
	insert, lookup, markUsed, delete, deleteUser, gc string
}

var _ remember.Store = (*Store)(nil)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

// New returns a Store on db. It does not touch the database; call Init
// to create the table.
func New(db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	if cfg.Dialect != SQLite && cfg.Dialect != Postgres {
		return nil, fmt.Errorf("sqlstore: unknown dialect %d (use sqlstore.SQLite or sqlstore.Postgres)", cfg.Dialect)
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if !identRE.MatchString(cfg.Table) {
		return nil, fmt.Errorf("sqlstore: table name %q: want [schema.]name of letters, digits and _", cfg.Table)
	}
	s := &Store{db: db, dialect: cfg.Dialect, table: cfg.Table}
	t := cfg.Table
	cols := "selector, validator_sha256, realm, user_id, created_at, expires_at, used_at"
	s.q = queries{
		insert:     s.rebind(`INSERT INTO ` + t + ` (` + cols + `) VALUES (?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (selector) DO NOTHING`),
		lookup:     s.rebind(`SELECT ` + cols + ` FROM ` + t + ` WHERE selector = ?`),
		markUsed:   s.rebind(`UPDATE ` + t + ` SET used_at = ? WHERE selector = ? AND used_at IS NULL AND realm = ? AND user_id = ?`),
		delete:     s.rebind(`DELETE FROM ` + t + ` WHERE selector = ?`),
		deleteUser: s.rebind(`DELETE FROM ` + t + ` WHERE realm = ? AND user_id = ?`),
		gc:         s.rebind(`DELETE FROM ` + t + ` WHERE expires_at < ?`),
	}
	return s, nil
}

// rebind turns ? placeholders into $n for PostgreSQL. The queries above
// hold no ? inside literals.
func (s *Store) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Init creates the table and its indexes if they do not exist.
func (s *Store) Init(ctx context.Context) error {
	base := s.table[strings.LastIndexByte(s.table, '.')+1:]
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + s.table + ` (
			selector         TEXT PRIMARY KEY,
			validator_sha256 TEXT NOT NULL,
			realm            TEXT NOT NULL,
			user_id          TEXT NOT NULL,
			created_at       BIGINT NOT NULL,
			expires_at       BIGINT NOT NULL,
			used_at          BIGINT
		)`,
		`CREATE INDEX IF NOT EXISTS ` + base + `_user_idx ON ` + s.table + ` (realm, user_id)`,
		`CREATE INDEX IF NOT EXISTS ` + base + `_expires_idx ON ` + s.table + ` (expires_at)`,
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlstore: creating %s: %w", s.table, err)
		}
	}
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func recordArgs(r remember.Record) []any {
	return []any{r.Selector, hex.EncodeToString(r.Hash[:]), r.Realm, r.User, micros(r.Created), micros(r.Expires)}
}

// Create implements remember.Store.
func (s *Store) Create(ctx context.Context, rec remember.Record) error {
	res, err := s.db.ExecContext(ctx, s.q.insert, recordArgs(rec)...)
	if err != nil {
		return fmt.Errorf("sqlstore: create: %w", err)
	}
	return collision(res)
}

func collision(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: rows affected: %w", err)
	}
	if n == 0 {
		return remember.ErrCollision
	}
	return nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Lookup implements remember.Store.
func (s *Store) Lookup(ctx context.Context, selector string) (remember.Record, error) {
	return s.lookup(ctx, s.db, selector)
}

func (s *Store) lookup(ctx context.Context, q queryer, selector string) (remember.Record, error) {
	var rec remember.Record
	if !remember.ValidSelector(selector) {
		return rec, remember.ErrNotFound // hostile values never reach the database
	}
	var hash string
	var created, expires int64
	var used sql.NullInt64
	err := q.QueryRowContext(ctx, s.q.lookup, selector).Scan(&rec.Selector, &hash, &rec.Realm, &rec.User, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return rec, remember.ErrNotFound
	}
	if err != nil {
		return rec, fmt.Errorf("sqlstore: lookup: %w", err)
	}
	raw, err := hex.DecodeString(hash)
	if err != nil || len(raw) != len(rec.Hash) {
		return remember.Record{}, fmt.Errorf("sqlstore: lookup: corrupt validator hash in %s", s.table)
	}
	copy(rec.Hash[:], raw)
	rec.Created, rec.Expires = fromMicros(created), fromMicros(expires)
	if used.Valid {
		rec.UsedAt = fromMicros(used.Int64)
	}
	return rec, nil
}

// Consume implements remember.Store.
func (s *Store) Consume(ctx context.Context, selector string, usedAt time.Time, next remember.Record) (err error) {
	if !remember.ValidSelector(selector) {
		return remember.ErrNotFound
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: consume: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// The write comes first: the transaction takes its write lock before
	// it reads anything, so the check and the mark are one step.
	res, err := tx.ExecContext(ctx, s.q.markUsed, micros(usedAt), selector, next.Realm, next.User)
	if err != nil {
		return fmt.Errorf("sqlstore: consume: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: consume: %w", err)
	}
	if n == 0 {
		old, lookErr := s.lookup(ctx, tx, selector)
		switch {
		case lookErr != nil:
			err = lookErr
		case old.Used():
			err = remember.ErrAlreadyUsed
		default:
			err = errors.New("sqlstore: consume: the next key belongs to another user or realm")
		}
		return err
	}
	res, err = tx.ExecContext(ctx, s.q.insert, recordArgs(next)...)
	if err != nil {
		return fmt.Errorf("sqlstore: consume: %w", err)
	}
	if err = collision(res); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: consume: commit: %w", err)
	}
	return nil
}

// Delete implements remember.Store.
func (s *Store) Delete(ctx context.Context, selector string) error {
	if !remember.ValidSelector(selector) {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, s.q.delete, selector); err != nil {
		return fmt.Errorf("sqlstore: delete: %w", err)
	}
	return nil
}

// DeleteUser implements remember.Store.
func (s *Store) DeleteUser(ctx context.Context, realm, user string) (int, error) {
	return s.exec(ctx, "delete user", s.q.deleteUser, realm, user)
}

// GC implements remember.Store. It deletes in one statement; the expires
// index keeps it cheap, and remember keys are few next to sessions.
func (s *Store) GC(ctx context.Context, now time.Time) (int, error) {
	return s.exec(ctx, "gc", s.q.gc, micros(now))
}

func (s *Store) exec(ctx context.Context, op, q string, args ...any) (int, error) {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return int(n), nil
}

package cookie

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SQLRevocations keeps revocations in a database through database/sql, so
// that every gateway opening the same database sees them. The SQL is
// SQLite's (driver "sqlite", modernc.org/sqlite): "?" placeholders, upserts
// with ON CONFLICT and the two-argument max(). Times are stored as Unix
// milliseconds, the precision a cookie keeps. Safe for concurrent use.
//
// Tables (created by NewSQLRevocations if missing):
//
//	sessiond_cookie_revoked_users(user_id TEXT PRIMARY KEY, before_ms INTEGER NOT NULL)
//	sessiond_cookie_revoked_refs(ref TEXT PRIMARY KEY, until_ms INTEGER NOT NULL) -- 0: forever
type SQLRevocations struct {
	db      *sql.DB
	timeout time.Duration
}

var _ Revocations = (*SQLRevocations)(nil)

// SQLConfig configures SQLRevocations.
type SQLConfig struct {
	// DB is an open database. Required. For SQLite, a busy timeout in the
	// DSN (e.g. "file:x.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	// lets concurrent writers wait instead of failing.
	DB *sql.DB
	// Timeout bounds each query, so a stuck database fails the request
	// (as session.ErrUnavailable) instead of hanging it. 0 means 2 seconds.
	Timeout time.Duration
}

const sqlSchema = `
CREATE TABLE IF NOT EXISTS sessiond_cookie_revoked_users (
	user_id   TEXT PRIMARY KEY,
	before_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessiond_cookie_revoked_refs (
	ref      TEXT PRIMARY KEY,
	until_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessiond_cookie_revoked_refs_until ON sessiond_cookie_revoked_refs (until_ms);
`

// NewSQLRevocations validates cfg and creates the tables if they are
// missing.
func NewSQLRevocations(ctx context.Context, cfg SQLConfig) (*SQLRevocations, error) {
	if cfg.DB == nil {
		return nil, errors.New("cookie: SQLConfig.DB is nil")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("cookie: SQLConfig.Timeout is negative (%v)", cfg.Timeout)
	}
	r := &SQLRevocations{db: cfg.DB, timeout: cfg.Timeout}
	if r.timeout == 0 {
		r.timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if _, err := r.db.ExecContext(ctx, sqlSchema); err != nil {
		return nil, fmt.Errorf("cookie: creating revocation tables: %w", err)
	}
	return r, nil
}

// RevokedBefore implements Revocations.
func (r *SQLRevocations) RevokedBefore(ctx context.Context, user string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var ms int64
	err := r.db.QueryRowContext(ctx,
		`SELECT before_ms FROM sessiond_cookie_revoked_users WHERE user_id = ?`, user).Scan(&ms)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("cookie: reading a user's revocation time: %w", err)
	}
	return time.UnixMilli(ms), nil
}

// SetRevokedBefore implements Revocations. t is rounded up to the next
// millisecond, so that everything issued before t is covered.
func (r *SQLRevocations) SetRevokedBefore(ctx context.Context, user string, t time.Time) error {
	ms := ceilMilli(t)
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, err := r.db.ExecContext(ctx, `
INSERT INTO sessiond_cookie_revoked_users (user_id, before_ms) VALUES (?, ?)
ON CONFLICT (user_id) DO UPDATE SET before_ms = max(before_ms, excluded.before_ms)`, user, ms)
	if err != nil {
		return fmt.Errorf("cookie: storing a user's revocation time: %w", err)
	}
	return nil
}

// RevokeRef implements Revocations.
func (r *SQLRevocations) RevokeRef(ctx context.Context, ref string, until time.Time) error {
	var ms int64 // 0: forever
	if !until.IsZero() {
		ms = max(until.UnixMilli(), 1)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, err := r.db.ExecContext(ctx, `
INSERT INTO sessiond_cookie_revoked_refs (ref, until_ms) VALUES (?, ?)
ON CONFLICT (ref) DO UPDATE SET until_ms = CASE
	WHEN until_ms = 0 OR excluded.until_ms = 0 THEN 0
	ELSE max(until_ms, excluded.until_ms) END`, ref, ms)
	if err != nil {
		return fmt.Errorf("cookie: storing a session revocation: %w", err)
	}
	return nil
}

// RefRevoked implements Revocations.
func (r *SQLRevocations) RefRevoked(ctx context.Context, ref string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var one int
	err := r.db.QueryRowContext(ctx,
		`SELECT 1 FROM sessiond_cookie_revoked_refs WHERE ref = ?`, ref).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cookie: reading a session revocation: %w", err)
	}
	return true, nil
}

// GC deletes Ref revocations that ended before now and reports how many.
// Per-user times are kept (one row per user at most).
func (r *SQLRevocations) GC(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.db.ExecContext(ctx,
		`DELETE FROM sessiond_cookie_revoked_refs WHERE until_ms <> 0 AND until_ms < ?`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("cookie: deleting ended revocations: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("cookie: deleting ended revocations: %w", err)
	}
	return int(n), nil
}

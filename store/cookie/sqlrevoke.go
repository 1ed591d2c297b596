package cookie

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
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
	refStmt *sql.Stmt // prepared: every request of a session checks its ref
	usrStmt *sql.Stmt
	version func() (uint64, bool)

	mu    sync.RWMutex
	at    uint64 // the version the cached answers were read at
	refs  map[string]bool
	users map[string]time.Time
}

// maxCachedAnswers bounds each answer cache (refs, users); past it the
// cache starts over.
const maxCachedAnswers = 100_000

var _ Revocations = (*SQLRevocations)(nil)

// SQLConfig configures SQLRevocations.
type SQLConfig struct {
	// DB is an open database. Required. For SQLite, open the list with
	// sqlite.Store.Revocations: on the store's connections, whose busy
	// timeout lets concurrent writers wait instead of failing.
	DB *sql.DB
	// ReadDB, if set, answers the checks (RevokedBefore, RefRevoked): a
	// pool of read-only connections beside a DB of one writer connection.
	// Default: DB.
	ReadDB *sql.DB
	// Timeout bounds each query, so a stuck database fails the request
	// (as session.ErrUnavailable) instead of hanging it. 0 means 2 seconds.
	Timeout time.Duration
	// Version, if set, returns a value that changes whenever anything is
	// committed to the database, by any connection or process (for a
	// SQLite file: sqlite.WatchChanges(path).Version), and ok false when
	// it cannot tell. Answers are then cached in memory and served only
	// while the version is the one they were read at: a revocation
	// committed anywhere is seen by the next request.
	Version func() (v uint64, ok bool)
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
	r := &SQLRevocations{db: cfg.DB, timeout: cfg.Timeout, version: cfg.Version,
		refs: map[string]bool{}, users: map[string]time.Time{}}
	if r.timeout == 0 {
		r.timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if _, err := r.db.ExecContext(ctx, sqlSchema); err != nil {
		return nil, fmt.Errorf("cookie: creating revocation tables: %w", err)
	}
	read := cfg.ReadDB
	if read == nil {
		read = r.db
	}
	var err error
	if r.refStmt, err = read.PrepareContext(ctx, `SELECT 1 FROM sessiond_cookie_revoked_refs WHERE ref = ?`); err != nil {
		return nil, fmt.Errorf("cookie: preparing revocation queries: %w", err)
	}
	if r.usrStmt, err = read.PrepareContext(ctx, `SELECT before_ms FROM sessiond_cookie_revoked_users WHERE user_id = ?`); err != nil {
		r.refStmt.Close()
		return nil, fmt.Errorf("cookie: preparing revocation queries: %w", err)
	}
	return r, nil
}

// Close releases the prepared statements (not the database).
func (r *SQLRevocations) Close() error {
	return errors.Join(r.refStmt.Close(), r.usrStmt.Close())
}

// cached looks an answer up at the current version. The version is read
// before the database: an answer read after a commit that the version
// missed is tagged with the older version, and so never served.
func cached[V any](r *SQLRevocations, m func() map[string]V, key string) (v V, hit bool, at uint64, ok bool) {
	if r.version == nil {
		return v, false, 0, false
	}
	if at, ok = r.version(); !ok {
		return v, false, 0, false
	}
	r.mu.RLock()
	if r.at == at {
		v, hit = m()[key]
	}
	r.mu.RUnlock()
	return v, hit, at, true
}

func remember[V any](r *SQLRevocations, m func() map[string]V, key string, v V, at uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at != at || len(r.refs) >= maxCachedAnswers || len(r.users) >= maxCachedAnswers {
		// Answers of another version: the cache starts over at this one.
		r.at, r.refs, r.users = at, map[string]bool{}, map[string]time.Time{}
	}
	m()[key] = v
}

// RevokedBefore implements Revocations.
func (r *SQLRevocations) RevokedBefore(ctx context.Context, user string) (time.Time, error) {
	users := func() map[string]time.Time { return r.users }
	t, hit, at, ok := cached(r, users, user)
	if hit {
		return t, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var ms int64
	err := r.usrStmt.QueryRowContext(ctx, user).Scan(&ms)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		t = time.Time{}
	case err != nil:
		return time.Time{}, fmt.Errorf("cookie: reading a user's revocation time: %w", err)
	default:
		t = time.UnixMilli(ms)
	}
	if ok {
		remember(r, users, user, t, at)
	}
	return t, nil
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
	refs := func() map[string]bool { return r.refs }
	revoked, hit, at, ok := cached(r, refs, ref)
	if hit {
		return revoked, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var one int
	err := r.refStmt.QueryRowContext(ctx, ref).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		revoked = false
	case err != nil:
		return false, fmt.Errorf("cookie: reading a session revocation: %w", err)
	default:
		revoked = true
	}
	if ok {
		remember(r, refs, ref, revoked, at)
	}
	return revoked, nil
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

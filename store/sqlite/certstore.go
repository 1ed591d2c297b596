package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// CertStore keeps HTTPS certificates, their keys and the ACME account
// (gateway/acme.KV) in two tables of an SQLite file — the session store's,
// or the cookie store's revocation list — beside whatever else the file
// holds: acme_kv (key, value, modified) and acme_locks (name, owner,
// expires). Every process that opens the file shares them, locks
// included.
type CertStore struct {
	db *sql.DB
}

// OpenCertStore opens (creating if needed) the certificate tables in the
// SQLite file at path, on a connection pool of its own.
func OpenCertStore(ctx context.Context, path string) (*CertStore, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("sqlite cert store %s: %w", path, err)
	}
	db.SetMaxOpenConns(2)
	_, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS acme_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, modified INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS acme_locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires INTEGER NOT NULL)`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite cert store %s: %w", path, err)
	}
	return &CertStore{db: db}, nil
}

// Close closes the store's connections.
func (c *CertStore) Close() error { return c.db.Close() }

// Store puts value at key.
func (c *CertStore) Store(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	_, err := c.db.ExecContext(ctx, `INSERT INTO acme_kv (key, value, modified) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, modified = excluded.modified`, key, value, time.Now().UnixMilli())
	return certErr(err)
}

// Load returns the value at key, or fs.ErrNotExist.
func (c *CertStore) Load(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := c.db.QueryRowContext(ctx, `SELECT value FROM acme_kv WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite cert store: %s: %w", key, fs.ErrNotExist)
	}
	return v, certErr(err)
}

// Delete removes key.
func (c *CertStore) Delete(ctx context.Context, key string) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM acme_kv WHERE key = ?`, key)
	return certErr(err)
}

// List returns the keys that start with prefix (compared as bytes: no
// LIKE wildcards).
func (c *CertStore) List(ctx context.Context, prefix string) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT key FROM acme_kv WHERE substr(CAST(key AS BLOB), 1, length(CAST(?1 AS BLOB))) = CAST(?1 AS BLOB)`, prefix)
	if err != nil {
		return nil, certErr(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, certErr(err)
		}
		keys = append(keys, k)
	}
	return keys, certErr(rows.Err())
}

// Stat returns the size and time of key's value, or fs.ErrNotExist.
func (c *CertStore) Stat(ctx context.Context, key string) (int64, time.Time, error) {
	var size, mod int64
	err := c.db.QueryRowContext(ctx, `SELECT length(value), modified FROM acme_kv WHERE key = ?`, key).Scan(&size, &mod)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, fmt.Errorf("sqlite cert store: %s: %w", key, fs.ErrNotExist)
	}
	return size, time.UnixMilli(mod), certErr(err)
}

// Lock takes name for owner until ttl from now if it is free, expired or
// already owner's: one upsert, which SQLite's write lock serialises
// across processes.
func (c *CertStore) Lock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	now := time.Now()
	res, err := c.db.ExecContext(ctx, `INSERT INTO acme_locks (name, owner, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
WHERE acme_locks.owner = excluded.owner OR acme_locks.expires <= ?4`, name, owner, now.Add(ttl).UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, certErr(err)
	}
	n, err := res.RowsAffected()
	return n == 1, certErr(err)
}

// Unlock frees name if owner holds it.
func (c *CertStore) Unlock(ctx context.Context, name, owner string) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM acme_locks WHERE name = ? AND owner = ?`, name, owner)
	return certErr(err)
}

func certErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite cert store: %w", err)
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/sessiond/sessiond/store/certkv"
)

// CertStore keeps HTTPS certificates, their keys and the ACME account
// (certkv.KV) in two tables of the store's file, beside its sessions and
// on its connections (writes on its writer, reads on its read pool):
// acme_kv (key, value, modified) and acme_locks (name, owner, expires).
// Every process that opens the file shares them, locks included.
type CertStore struct {
	s *Store
}

// CertStore returns the file's certificate store (the same at every
// call), creating its tables on first use.
func (s *Store) CertStore(ctx context.Context) (certkv.KV, error) {
	s.comp.mu.Lock()
	defer s.comp.mu.Unlock()
	if s.comp.certs != nil {
		return s.comp.certs, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	_, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS acme_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, modified INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS acme_locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires INTEGER NOT NULL)`)
	if err != nil {
		return nil, s.fail("cert store", err)
	}
	s.comp.certs = &CertStore{s: s}
	return s.comp.certs, nil
}

// Store puts value at key.
func (c *CertStore) Store(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	ctx, cancel := c.s.op(ctx)
	defer cancel()
	_, err := c.s.w.ExecContext(ctx, `INSERT INTO acme_kv (key, value, modified) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, modified = excluded.modified`, key, value, time.Now().UnixMilli())
	return c.err(err)
}

// Load returns the value at key, or fs.ErrNotExist.
func (c *CertStore) Load(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	ctx, cancel := c.s.op(ctx)
	defer cancel()
	err := c.s.r.QueryRowContext(ctx, `SELECT value FROM acme_kv WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite cert store: %s: %w", key, fs.ErrNotExist)
	}
	return v, c.err(err)
}

// Delete removes key.
func (c *CertStore) Delete(ctx context.Context, key string) error {
	ctx, cancel := c.s.op(ctx)
	defer cancel()
	_, err := c.s.w.ExecContext(ctx, `DELETE FROM acme_kv WHERE key = ?`, key)
	return c.err(err)
}

// List returns the keys that start with prefix (compared as bytes: no
// LIKE wildcards).
func (c *CertStore) List(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := c.s.op(ctx)
	defer cancel()
	rows, err := c.s.r.QueryContext(ctx, `SELECT key FROM acme_kv WHERE substr(CAST(key AS BLOB), 1, length(CAST(?1 AS BLOB))) = CAST(?1 AS BLOB)`, prefix)
	if err != nil {
		return nil, c.err(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, c.err(err)
		}
		keys = append(keys, k)
	}
	return keys, c.err(rows.Err())
}

// Stat returns the size and time of key's value, or fs.ErrNotExist.
func (c *CertStore) Stat(ctx context.Context, key string) (int64, time.Time, error) {
	var size, mod int64
	ctx, cancel := c.s.op(ctx)
	defer cancel()
	err := c.s.r.QueryRowContext(ctx, `SELECT length(value), modified FROM acme_kv WHERE key = ?`, key).Scan(&size, &mod)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, fmt.Errorf("sqlite cert store: %s: %w", key, fs.ErrNotExist)
	}
	return size, time.UnixMilli(mod), c.err(err)
}

// Lock takes name for owner until ttl from now if it is free, expired or
// already owner's: one upsert, which SQLite's write lock serialises
// across processes.
func (c *CertStore) Lock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	now := time.Now()
	ctx, cancel := c.s.op(ctx)
	defer cancel()
	res, err := c.s.w.ExecContext(ctx, `INSERT INTO acme_locks (name, owner, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
WHERE acme_locks.owner = excluded.owner OR acme_locks.expires <= ?4`, name, owner, now.Add(ttl).UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, c.err(err)
	}
	n, err := res.RowsAffected()
	return n == 1, c.err(err)
}

// Unlock frees name if owner holds it.
func (c *CertStore) Unlock(ctx context.Context, name, owner string) error {
	ctx, cancel := c.s.op(ctx)
	defer cancel()
	_, err := c.s.w.ExecContext(ctx, `DELETE FROM acme_locks WHERE name = ? AND owner = ?`, name, owner)
	return c.err(err)
}

func (c *CertStore) err(err error) error {
	if err == nil {
		return nil
	}
	return c.s.fail("cert store", err)
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiond/sessiond/store/certkv"
)

// CertStore keeps HTTPS certificates, their keys and the ACME account
// (certkv.KV) in two tables beside the store's own, named with its
// schema and table prefix: <prefix>acme_kv (key, value, modified) and
// <prefix>acme_locks (name, owner, expires). Every gateway on the database
// shares them, so one of them orders a certificate (under a lock) and the
// others load it.
type CertStore struct {
	pool                *pgxpool.Pool
	timeout             time.Duration
	put, get, del, list string
	stat, lock, unlock  string
}

// CertStore returns the store's certificate store (the same at every
// call), creating its tables on first use. It uses the store's
// connections and timeout: it ends with the store.
func (s *Store) CertStore(ctx context.Context) (certkv.KV, error) {
	s.comp.mu.Lock()
	defer s.comp.mu.Unlock()
	if s.comp.certs != nil {
		return s.comp.certs, nil
	}
	schema, prefix, _ := strings.Cut(s.lockSalt, ".") // lockSalt is schema "." prefix
	kv, locks := ident(schema, prefix+"acme_kv"), ident(schema, prefix+"acme_locks")
	ctx, cancel := context.WithTimeout(ctx, max(s.timeout, 5*time.Second))
	defer cancel()
	_, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+kv+` (key text PRIMARY KEY, value bytea NOT NULL, modified timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS `+locks+` (name text PRIMARY KEY, owner text NOT NULL, expires timestamptz NOT NULL)`)
	if err != nil {
		return nil, fmt.Errorf("postgres cert store: %w", err)
	}
	s.comp.certs = &CertStore{
		pool: s.pool, timeout: s.timeout,
		put: `INSERT INTO ` + kv + ` (key, value, modified) VALUES ($1, $2, now())
ON CONFLICT (key) DO UPDATE SET value = excluded.value, modified = excluded.modified`,
		get:  `SELECT value FROM ` + kv + ` WHERE key = $1`,
		del:  `DELETE FROM ` + kv + ` WHERE key = $1`,
		list: `SELECT key FROM ` + kv + ` WHERE left(key, length($1)) = $1`,
		stat: `SELECT octet_length(value), modified FROM ` + kv + ` WHERE key = $1`,
		// The server's clock judges expiry, the same for every gateway.
		lock: `INSERT INTO ` + locks + ` AS l (name, owner, expires) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
WHERE l.owner = excluded.owner OR l.expires <= now()`,
		unlock: `DELETE FROM ` + locks + ` WHERE name = $1 AND owner = $2`,
	}
	return s.comp.certs, nil
}

// op bounds one operation by the store's timeout.
func (c *CertStore) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// Store puts value at key.
func (c *CertStore) Store(ctx context.Context, key string, value []byte) error {
	ctx, cancel := c.op(ctx)
	defer cancel()
	if value == nil {
		value = []byte{}
	}
	_, err := c.pool.Exec(ctx, c.put, key, value)
	return certErr(err)
}

// Load returns the value at key, or fs.ErrNotExist.
func (c *CertStore) Load(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := c.op(ctx)
	defer cancel()
	var v []byte
	err := c.pool.QueryRow(ctx, c.get, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres cert store: %s: %w", key, fs.ErrNotExist)
	}
	return v, certErr(err)
}

// Delete removes key.
func (c *CertStore) Delete(ctx context.Context, key string) error {
	ctx, cancel := c.op(ctx)
	defer cancel()
	_, err := c.pool.Exec(ctx, c.del, key)
	return certErr(err)
}

// List returns the keys that start with prefix (no LIKE wildcards).
func (c *CertStore) List(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := c.op(ctx)
	defer cancel()
	rows, err := c.pool.Query(ctx, c.list, prefix)
	if err != nil {
		return nil, certErr(err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return keys, certErr(err)
}

// Stat returns the size and time of key's value, or fs.ErrNotExist.
func (c *CertStore) Stat(ctx context.Context, key string) (int64, time.Time, error) {
	ctx, cancel := c.op(ctx)
	defer cancel()
	var size int64
	var mod time.Time
	err := c.pool.QueryRow(ctx, c.stat, key).Scan(&size, &mod)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, fmt.Errorf("postgres cert store: %s: %w", key, fs.ErrNotExist)
	}
	return size, mod, certErr(err)
}

// Lock takes name for owner until ttl from now if it is free, expired or
// already owner's: one upsert, atomic on the server.
func (c *CertStore) Lock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	ctx, cancel := c.op(ctx)
	defer cancel()
	tag, err := c.pool.Exec(ctx, c.lock, name, owner, ttl.Milliseconds())
	if err != nil {
		return false, certErr(err)
	}
	return tag.RowsAffected() == 1, nil
}

// Unlock frees name if owner holds it.
func (c *CertStore) Unlock(ctx context.Context, name, owner string) error {
	ctx, cancel := c.op(ctx)
	defer cancel()
	_, err := c.pool.Exec(ctx, c.unlock, name, owner)
	return certErr(err)
}

func certErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("postgres cert store: %w", err)
}

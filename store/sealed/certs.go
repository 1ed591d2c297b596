package sealed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/store/certkv"
)

// CertPurpose is the label the certificate store's keys are derived
// under: its values never open as session records or cookies, nor the
// other way round, even with the same operator key.
const CertPurpose = "sessiond at-rest certificate store v1"

// CertStoreConfig configures a CertStore.
type CertStoreConfig struct {
	// Inner keeps the sealed values, the key names and the locks. Required.
	Inner certkv.KV
	// Keys are 32-byte keys, current key first (Config.Keys): the first
	// seals, all open, so a rotation keeps every stored certificate.
	// Required.
	Keys [][]byte
	// Logger receives errors about values that do not open (with their
	// key name, never a value). Nil means slog.Default().
	Logger *slog.Logger
}

// CertStore keeps a certificate store's values — certificates, their
// private keys, the ACME account key — out of reach of whoever reads only
// the database: each value is sealed (XChaCha20-Poly1305, internal/seal)
// and bound to its key name, so a value copied under another name does
// not open. Key names (they hold host names) and locks pass through in
// plaintext, as the inner store lists and locks by them.
//
// A value that does not open because it was tampered with, or was stored
// before encryption was turned on, loads (and stats) as missing (an error
// wrapping fs.ErrNotExist and seal.ErrOpen), logged: the ACME manager then
// orders the certificate again and stores it sealed. A value sealed with a key
// that is not in the ring fails with seal.ErrUnknownKey instead, so a
// node with a misconfigured ring does not order over its peers'
// certificates.
type CertStore struct {
	inner certkv.KV
	ring  *seal.Ring
	log   *slog.Logger
}

var _ certkv.KV = (*CertStore)(nil)

// NewCertStore validates cfg and returns a CertStore.
func NewCertStore(cfg CertStoreConfig) (*CertStore, error) {
	if cfg.Inner == nil {
		return nil, errors.New("sealed: CertStoreConfig.Inner is nil")
	}
	ring, err := seal.New(seal.Config{Purpose: CertPurpose, Keys: cfg.Keys})
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &CertStore{inner: cfg.Inner, ring: ring, log: log}, nil
}

// Store seals value, bound to key, and stores it.
func (c *CertStore) Store(ctx context.Context, key string, value []byte) error {
	return c.inner.Store(ctx, key, c.ring.Seal(make([]byte, 0, seal.SealedLen(len(value))), value, []byte(key)))
}

// Load opens the value at key. See CertStore for values that do not open.
func (c *CertStore) Load(ctx context.Context, key string) ([]byte, error) {
	blob, err := c.inner.Load(ctx, key)
	if err != nil {
		return nil, err
	}
	v, err := c.ring.Open(nil, blob, []byte(key))
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, seal.ErrUnknownKey):
		c.log.LogAttrs(ctx, slog.LevelError, "sealed cert store: value sealed with a key that is not in this node's ring; check store.encrypt_at_rest",
			slog.String("key", key), slog.Any("ring_key_ids", c.ring.KeyIDs()))
		return nil, fmt.Errorf("sealed cert store: %s: %w", key, err)
	}
	c.log.LogAttrs(ctx, slog.LevelError, "sealed cert store: value does not open (tampered, moved, or stored unencrypted); treating it as missing",
		slog.String("key", key))
	return nil, fmt.Errorf("sealed cert store: %s: %w: %w", key, fs.ErrNotExist, err)
}

// Delete is the inner store's.
func (c *CertStore) Delete(ctx context.Context, key string) error { return c.inner.Delete(ctx, key) }

// List is the inner store's: key names are not sealed.
func (c *CertStore) List(ctx context.Context, prefix string) ([]string, error) {
	return c.inner.List(ctx, prefix)
}

// Stat is the inner store's, with the size of the value before sealing,
// and agrees with Load: a value that would load as missing is missing
// here too (the ACME manager orders a certificate only when one of its
// parts is missing), while one sealed with a key not in the ring exists.
// It reads the value to tell; the manager asks rarely.
func (c *CertStore) Stat(ctx context.Context, key string) (int64, time.Time, error) {
	size, mod, err := c.inner.Stat(ctx, key)
	if err != nil {
		return 0, time.Time{}, err
	}
	blob, err := c.inner.Load(ctx, key)
	if err != nil {
		return 0, time.Time{}, err
	}
	if _, err := c.ring.Open(nil, blob, []byte(key)); err != nil && !errors.Is(err, seal.ErrUnknownKey) {
		return 0, time.Time{}, fmt.Errorf("sealed cert store: %s: %w: %w", key, fs.ErrNotExist, err)
	}
	return max(size-seal.Overhead, 0), mod, nil
}

// Lock is the inner store's.
func (c *CertStore) Lock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	return c.inner.Lock(ctx, name, owner, ttl)
}

// Unlock is the inner store's.
func (c *CertStore) Unlock(ctx context.Context, name, owner string) error {
	return c.inner.Unlock(ctx, name, owner)
}

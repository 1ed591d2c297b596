package memory

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/sessiond/sessiond/store/certkv"
)

// CertStore is a key-value map with expiring named locks, in memory: the
// certificate store (certkv.KV) of a gateway on the memory store
// (its certificates, like its sessions, end with the process), and of
// tests.
type CertStore struct {
	mu    sync.Mutex
	vals  map[string]certValue
	locks map[string]certLock
	now   func() time.Time
}

type certValue struct {
	v   []byte
	mod time.Time
}

type certLock struct {
	owner   string
	expires time.Time
}

// CertStore returns the store's certificate store (the same at every
// call).
func (s *Store) CertStore(context.Context) (certkv.KV, error) {
	st := &s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.certs == nil {
		st.certs = NewCertStore()
	}
	return st.certs, nil
}

// NewCertStore returns an empty CertStore.
func NewCertStore() *CertStore {
	return &CertStore{vals: map[string]certValue{}, locks: map[string]certLock{}, now: time.Now}
}

// Store puts a copy of value at key.
func (c *CertStore) Store(_ context.Context, key string, value []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vals[key] = certValue{v: append([]byte(nil), value...), mod: c.now()}
	return nil
}

// Load returns a copy of the value at key, or fs.ErrNotExist.
func (c *CertStore) Load(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.vals[key]
	if !ok {
		return nil, fmt.Errorf("memory cert store: %s: %w", key, fs.ErrNotExist)
	}
	return append([]byte(nil), v.v...), nil
}

// Delete removes key.
func (c *CertStore) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.vals, key)
	return nil
}

// List returns the keys that start with prefix.
func (c *CertStore) List(_ context.Context, prefix string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.vals {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}

// Stat returns the size and time of key's value, or fs.ErrNotExist.
func (c *CertStore) Stat(_ context.Context, key string) (int64, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.vals[key]
	if !ok {
		return 0, time.Time{}, fmt.Errorf("memory cert store: %s: %w", key, fs.ErrNotExist)
	}
	return int64(len(v.v)), v.mod, nil
}

// Lock takes name for owner until ttl from now if it is free, expired or
// already owner's.
func (c *CertStore) Lock(_ context.Context, name, owner string, ttl time.Duration) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if l, ok := c.locks[name]; ok && l.owner != owner && now.Before(l.expires) {
		return false, nil
	}
	c.locks[name] = certLock{owner: owner, expires: now.Add(ttl)}
	return true, nil
}

// Unlock frees name if owner holds it.
func (c *CertStore) Unlock(_ context.Context, name, owner string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.locks[name]; ok && l.owner == owner {
		delete(c.locks, name)
	}
	return nil
}

// Package certkv names where HTTPS certificates are kept: KV, which every
// store package offers on its own connections (the CertStore method of
// its handle) and gateway/acme keeps its certificates in. It holds only
// the interface, on standard types, so that store packages, the at-rest
// encryption of store/sealed and the ACME manager agree on it without
// importing one another.
package certkv

import (
	"context"
	"time"
)

// KV is where certificates, their keys, OCSP staples and the ACME account
// are kept: a flat map of slash-separated keys to values, and named locks
// that expire, so that gateways sharing one store share certificates and
// only one of them orders a certificate at a time.
type KV interface {
	// Store puts value at key, replacing any value there.
	Store(ctx context.Context, key string, value []byte) error
	// Load returns the value at key, or an error wrapping fs.ErrNotExist.
	Load(ctx context.Context, key string) ([]byte, error)
	// Delete removes key; a key that is not there is no error.
	Delete(ctx context.Context, key string) error
	// List returns every key that starts with prefix, in any order.
	List(ctx context.Context, prefix string) ([]string, error)
	// Stat returns the size of key's value and when it was last stored,
	// or an error wrapping fs.ErrNotExist.
	Stat(ctx context.Context, key string) (size int64, modified time.Time, err error)
	// Lock takes the lock name for owner until ttl from now, if it is
	// free, expired, or already owner's (then its expiry moves). It does
	// not wait: false means another owner holds it.
	Lock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// Unlock frees name if owner holds it; otherwise it does nothing.
	Unlock(ctx context.Context, name, owner string) error
}

package remember

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

// Answers from a Store. Anything else a Store returns is a failure of the
// backend; the Manager passes it on and keeps the cookie.
var (
	// ErrNotFound: no key with that selector (or, from the Manager, the key
	// is unknown or expired).
	ErrNotFound = errors.New("remember: unknown or expired auto-login key")
	// ErrAlreadyUsed: Consume found the key already marked used.
	ErrAlreadyUsed = errors.New("remember: auto-login key already used")
	// ErrCollision: a key with that selector already exists.
	ErrCollision = errors.New("remember: selector collision")
)

// Record is one stored key. It holds no secret: Hash is the SHA-256 of the
// validator, and the validator itself exists only in the user's cookie.
type Record struct {
	Selector string            // 22 base64url characters; the lookup key
	Hash     [sha256.Size]byte // SHA-256 of the validator's raw bytes
	Realm    string            // the issuing Manager's Config.Realm
	User     string
	Created  time.Time
	Expires  time.Time
	UsedAt   time.Time // zero until Consume marks the key used
}

// Used reports whether the key has been consumed.
func (r Record) Used() bool { return !r.UsedAt.IsZero() }

// Store keeps auto-login keys. Every method must be safe for concurrent
// use, across processes for shared backends. remember/storetest checks an
// implementation against this contract.
type Store interface {
	// Create stores a new key; ErrCollision if the selector exists.
	Create(ctx context.Context, rec Record) error

	// Lookup returns the key with that selector, used or not, expired or
	// not (the Manager judges); ErrNotFound if there is none.
	Lookup(ctx context.Context, selector string) (Record, error)

	// Consume atomically marks the key selector as used at usedAt and
	// stores next, which must belong to the same realm and user. If the key is
	// already used it changes nothing and returns ErrAlreadyUsed: of two
	// concurrent Consume calls on one key exactly one succeeds. ErrNotFound
	// if the key does not exist; ErrCollision (and no change) if next's
	// selector exists.
	Consume(ctx context.Context, selector string, usedAt time.Time, next Record) error

	// Delete removes one key; deleting an absent key is not an error.
	Delete(ctx context.Context, selector string) error

	// DeleteUser removes every key of user in realm, used or not, and
	// reports how many. Another realm's keys of the same user name stay.
	DeleteUser(ctx context.Context, realm, user string) (int, error)

	// GC removes keys that expired before now and reports how many.
	GC(ctx context.Context, now time.Time) (int, error)
}

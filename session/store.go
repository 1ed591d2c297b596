package session

import (
	"context"
	"time"
)

// Store keeps session records. It is the whole contract a backend
// implements; everything else (strict mode, expiry rules, merging, rotation)
// lives in the Manager. Every method must be safe for concurrent use.
//
// Errors: ErrNotFound, ErrConflict and ErrCollision are answers, not
// failures, and must be reported with errors.Is-compatible wrapping. Any
// failure to reach the backend must wrap ErrUnavailable, and should come
// back quickly (bounded timeouts) rather than hang the request.
//
// Expiry: a store never judges whether a session has ended; the Manager
// does, from its own limits (idle, absolute, MaxAge). Record.Expires is
// only when the store may forget the record, and the Manager sets it
// ExpiredNotice after the session's end. Until then a store must keep
// answering Load with the record, so the Manager can tell an ended
// session ("session.expired": audited, cookie cleared) from an ID that
// never named one ("session.unknown_id"); the Manager never serves it.
// After Expires a store may answer ErrNotFound (Redis's TTL does), or keep
// the record until GC. A store holds nothing for this beyond the record it
// already has: no second copy, no per-expiry marker.
//
// store/storetest runs the conformance suite for this contract.
type Store interface {
	// Load returns the record that h names, whether h is its ID, its
	// SecureID or one of its aliases; ErrNotFound if none. The returned
	// record is read-only to the caller. A record whose Expires has not
	// passed must be returned, ended session or not (see Expiry above); one
	// whose Expires has passed may be reported as not found.
	Load(ctx context.Context, h Hash) (*Record, error)

	// Create stores a new record. If rec.Ref or any of rec.Hashes() is
	// already in use it stores nothing and returns ErrCollision.
	Create(ctx context.Context, rec *Record) error

	// Update replaces the record with key rec.Ref by rec if the stored
	// version is prev (rec.Version is prev+1): ErrConflict if it is not,
	// ErrNotFound if no such record. The ID index follows rec.Hashes():
	// hashes no longer listed stop naming the record; a new hash that
	// already names another record fails the update with ErrCollision.
	Update(ctx context.Context, rec *Record, prev uint64) error

	// Delete removes the record with key ref and all its hashes. Deleting
	// an absent record is not an error.
	//
	// Delete is unconditional. A Logout or Destroy ends only the session
	// its request loaded: if the stored record's User is no longer the
	// loaded one (a login, logout or change of user since: a hard
	// rotation, as Merger rule 4), the Manager deletes nothing. Otherwise
	// it first retires the record with Update on the version it checked
	// (IDs replaced by one nobody holds, so no write built on an older
	// version lands on it and no ID opens it), then deletes it: check and
	// end are atomic with Update's compare-and-swap alone, so no store
	// needs a conditional delete (storetest.StaleLogoutAfterLogin).
	Delete(ctx context.Context, ref string) error

	// ListUser returns the records whose User is user (read-only).
	ListUser(ctx context.Context, user string) ([]*Record, error)

	// GC deletes records whose Expires is at or before now and reports how
	// many (Manager.RunGC audits the count, one event per sweep). Stores
	// with native expiry may do less here, but must not let the user index
	// keep dead entries forever.
	GC(ctx context.Context, now time.Time) (int, error)
}

// Locker is implemented by stores that can hold an exclusive lock on a
// record across processes (for Config.Lock). Without it the Manager locks
// within its own process only.
type Locker interface {
	// Lock blocks until it holds the lock on ref or ctx ends; unlock
	// releases it.
	Lock(ctx context.Context, ref string) (unlock func(), err error)
}

// CookieCodec keeps the whole record in the browser instead of a server
// store (store/cookie implements it). The Manager uses it in place of a
// Store: the cookie value is the sealed record, re-issued on every write.
//
// A cookie is bound to its realm (Record.Realm; Config.Realm): a cookie
// sealed for one realm never opens in another, and revocations of a user
// are per realm (a user name of one site is not the same user on another).
type CookieCodec interface {
	// Encode seals rec as the value of the cookie called name, bound to
	// rec.Realm. A value past the codec's size limit is ErrTooLarge, never a
	// truncated cookie.
	Encode(ctx context.Context, name string, rec *Record) (string, error)
	// Decode opens a cookie value sealed for the cookie name in realm (and
	// sets the record's Realm). Anything that is not an intact, unrevoked
	// record of this codec whose Expires has not passed — tampered,
	// truncated, past Expires, sealed for another cookie name or realm,
	// revoked — is ErrNotFound; ErrUnavailable if the revocation store
	// cannot be reached. As for a Store, an ended session whose Expires
	// (its end plus ExpiredNotice) has not passed is returned: the Manager
	// answers it as expired.
	Decode(ctx context.Context, name, realm, value string) (*Record, error)
	// Revoke makes every cookie of this record (this Ref) invalid until it
	// would have expired anyway: logout for a client-side session.
	Revoke(ctx context.Context, rec *Record) error
	// RevokeUser invalidates every cookie of user in realm issued before
	// the given time.
	RevokeUser(ctx context.Context, realm, user string, before time.Time) error
	// CanRevoke reports whether the codec has a server-side revocation
	// store. New refuses a codec without one: logout would leave a copied
	// cookie valid until it expires.
	CanRevoke() bool
}

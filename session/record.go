package session

import (
	"maps"
	"slices"
	"time"

	"github.com/sessiond/sessiond/internal/token"
)

// Hash is the realm-bound SHA-256 of a session ID (internal/token.ParseIn):
// the only form of an ID a store sees.
type Hash = token.Hash

// Record is one session as a store keeps it. A Store treats everything but
// Ref, the ID hashes (ID, SecureID, Aliases), User, Expires and Version as
// opaque payload; the simplest correct store persists MarshalRecord's bytes
// next to those index fields.
//
// A *Record returned by Store.Load is shared: the caller must not modify it
// (the Manager copies before it changes anything). A *Record passed to Create
// or Update belongs to the store from then on.
type Record struct {
	// Ref is the record's stable random key. It survives regenerations and
	// is not a credential (knowing it opens nothing); the gateway passes it
	// to backends as X-Session-Ref and logs use it.
	Ref string `json:"ref"`
	// Realm is Config.Realm of the Manager that created the record. A
	// Manager of another realm never adopts it (the ID hashes are bound to
	// the realm as well, so it normally cannot even find it).
	Realm string `json:"realm,omitempty"`
	// ID is the hash of the current ID: the only ID in https-only mode, the
	// insecure ID in mixed mode.
	ID Hash `json:"id"`
	// SecureID is the hash of the secure ID in mixed mode (zero if none).
	SecureID Hash `json:"sid,omitzero"`
	// Aliases are obsolete IDs after regenerations, kept until the record
	// expires so a late replay is recognised.
	Aliases []Alias `json:"aliases,omitempty"`

	Data map[string]string `json:"data,omitempty"`
	// Sealed holds Data encrypted at rest by a wrapping store (Data is then
	// empty in what the inner store sees).
	Sealed []byte `json:"sealed,omitempty"`
	User   string `json:"user,omitempty"`

	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"seen"`
	Saved    time.Time `json:"saved"`   // last save (a change or a touch): MaxAge counts from it
	Rotated  time.Time `json:"rotated"` // last ID regeneration (or creation)
	// SecureSeen is the last HTTPS request of a mixed-mode session; a later
	// HTTP request is a step down.
	SecureSeen time.Time `json:"secseen,omitzero"`
	// Expires is when the store may forget the record (zero: never): the
	// session's end plus ExpiredNotice, recomputed by the Manager on every
	// write (see Store, Expiry).
	Expires time.Time `json:"exp,omitzero"`

	// Version increases by one on every write (compare-and-swap).
	Version uint64 `json:"v"`
	// Generation counts regenerations.
	Generation int `json:"gen,omitempty"`
	// Requests counts requests since the last regeneration; kept only when
	// rotation every N requests is on.
	Requests int `json:"reqs,omitempty"`

	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"ua,omitempty"`
}

// Alias is an obsolete ID of a record.
type Alias struct {
	Hash Hash `json:"h"`
	// Secure marks an obsolete secure ID (mixed mode).
	Secure bool `json:"s,omitempty"`
	// Until ends the grace window: before it the old ID still works (and
	// leads to the new one); after it, its use is a theft signal.
	Until time.Time `json:"until"`
	// Next is the successor ID sealed under the old ID (see
	// internal/token.SealSuccessor): only a holder of the old ID can open it.
	Next       []byte `json:"next,omitempty"`
	Generation int    `json:"gen,omitempty"`
}

// Hashes lists every ID hash that names r: ID, SecureID (if set) and aliases.
func (r *Record) Hashes() []Hash {
	out := make([]Hash, 0, 2+len(r.Aliases))
	if !r.ID.IsZero() {
		out = append(out, r.ID)
	}
	if !r.SecureID.IsZero() {
		out = append(out, r.SecureID)
	}
	for _, a := range r.Aliases {
		out = append(out, a.Hash)
	}
	return out
}

// Clone returns a deep copy of r.
func (r *Record) Clone() *Record {
	c := *r
	c.Data = maps.Clone(r.Data)
	c.Sealed = slices.Clone(r.Sealed)
	c.Aliases = slices.Clone(r.Aliases)
	for i := range c.Aliases {
		c.Aliases[i].Next = slices.Clone(c.Aliases[i].Next)
	}
	return &c
}

// ExpiredAt reports whether r's store expiry has passed at now.
func (r *Record) ExpiredAt(now time.Time) bool {
	return !r.Expires.IsZero() && !now.Before(r.Expires)
}

// Package token makes and checks session IDs and their hashes.
//
// An ID is 32 bytes from crypto/rand, written as unpadded base64url (43
// characters). Only a SHA-256 of the raw 32 bytes ever reaches a store, so a
// dump of the store cannot be replayed as cookies.
//
// The hash is bound to a realm (the site, or the sites sharing sessions, that
// issued the ID): HashIn(realm, raw) is SHA-256 over a label, the realm's
// length and bytes, and the raw ID. The same ID presented to another realm
// therefore has another hash, which no record of any store carries: it is
// simply unknown there. The empty realm hashes the raw bytes alone (the form
// before realms existed), so records of a Manager without a realm keep working.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Size is the number of random bytes in an ID.
const Size = 32

// Len is the length of an ID in its base64url form.
const Len = 43

// Hash is the SHA-256 of an ID's raw bytes. It is what stores index by.
type Hash [sha256.Size]byte

// IsZero reports whether h is the zero hash (no ID).
func (h Hash) IsZero() bool { return h == Hash{} }

// Hex is the hash in lowercase hex, for store keys.
func (h Hash) Hex() string { return hex.EncodeToString(h[:]) }

// String never shows the hash: hashes stay out of logs and error pages.
func (h Hash) String() string { return "[id-hash]" }

// MarshalText writes the hash as hex, so records can be stored as JSON.
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, hex.EncodedLen(len(h)))
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText reads a hash written by MarshalText.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*h = Hash{}
		return nil
	}
	var out Hash
	if hex.DecodedLen(len(b)) != len(out) {
		return errBadHash
	}
	if _, err := hex.Decode(out[:], b); err != nil {
		return errBadHash
	}
	*h = out
	return nil
}

type hashError struct{}

func (hashError) Error() string { return "token: malformed hash (want 64 hex digits)" }

var errBadHash = hashError{}

// New draws a fresh ID and returns it with its hash in the empty realm.
func New() (id string, h Hash) { return NewIn("") }

// NewIn draws a fresh ID and returns it with its hash in realm.
func NewIn(realm string) (id string, h Hash) {
	var raw [Size]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (Go 1.24+); it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(raw[:]), hashIn(realm, &raw)
}

// Parse is ParseIn in the empty realm.
func Parse(id string) (Hash, bool) { return ParseIn("", id) }

// ParseIn checks that id has the form of an ID this package makes and
// returns its hash in realm. Anything else — wrong length, other alphabet,
// padding, non-canonical trailing bits — is rejected without allocating, so
// hostile values never reach a store.
func ParseIn(realm, id string) (Hash, bool) {
	if len(id) != Len {
		return Hash{}, false
	}
	raw, ok := decode(id)
	if !ok {
		return Hash{}, false
	}
	return hashIn(realm, &raw), true
}

// realmLabel starts every realm-bound hash input, so it can never equal the
// input of another use of SHA-256 in this project.
const realmLabel = "sessiond realm id v1\x00"

// MaxRealm bounds a realm name (session.Config checks it).
const MaxRealm = 255

// hashIn is the store hash of a raw ID in realm: SHA-256(raw) for the empty
// realm, else SHA-256(label || len(realm) || realm || raw).
func hashIn(realm string, raw *[Size]byte) Hash {
	if realm == "" {
		return sha256.Sum256(raw[:])
	}
	if len(realm) > MaxRealm {
		realm = realm[:MaxRealm] // session.Config refuses longer realms; never reached
	}
	var buf [len(realmLabel) + 1 + MaxRealm + Size]byte
	n := copy(buf[:], realmLabel)
	buf[n] = byte(len(realm))
	n++
	n += copy(buf[n:], realm)
	n += copy(buf[n:], raw[:])
	return sha256.Sum256(buf[:n])
}

// decode reads a 43-character unpadded base64url ID into 32 bytes without
// allocating. The last character must carry zero low bits (canonical form),
// so one ID has exactly one spelling.
func decode(id string) (raw [Size]byte, ok bool) {
	if len(id) != Len {
		return raw, false
	}
	var acc uint32
	bits, j := 0, 0
	for i := 0; i < len(id); i++ {
		v := b64val(id[i])
		if v < 0 {
			return raw, false
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			raw[j] = byte(acc >> bits)
			j++
			acc &= 1<<bits - 1
		}
	}
	// 43*6 = 258 bits: 256 used, 2 left over that must be zero.
	return raw, j == Size && acc == 0
}

func b64val(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

// Ref draws a random 16-byte reference, base64url: record keys and other
// handles that are not credentials.
func Ref() string {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

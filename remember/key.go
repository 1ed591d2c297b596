package remember

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// A key is a selector (the lookup key, not secret on its own) and a
// validator (the secret, of which the store keeps only the SHA-256).

const (
	selectorBytes  = 16
	validatorBytes = 32
	selectorLen    = 22 // unpadded base64url of 16 bytes
	validatorLen   = 43 // unpadded base64url of 32 bytes
	// cookieLen is the exact length of a well-formed cookie value.
	cookieLen = selectorLen + 1 + validatorLen
)

var b64 = base64.RawURLEncoding.Strict()

type key struct {
	selector  string // base64url, as stored
	validator [validatorBytes]byte
}

// newKey draws a fresh key.
func newKey() key {
	var sel [selectorBytes]byte
	var k key
	_, _ = rand.Read(sel[:]) // crypto/rand.Read never fails (Go 1.24+)
	_, _ = rand.Read(k.validator[:])
	k.selector = base64.RawURLEncoding.EncodeToString(sel[:])
	return k
}

// value is the cookie value of k.
func (k key) value() string {
	return k.selector + "." + base64.RawURLEncoding.EncodeToString(k.validator[:])
}

// hash is what the store keeps instead of the validator.
func (k key) hash() [sha256.Size]byte { return sha256.Sum256(k.validator[:]) }

// matches reports in constant time whether k's validator hashes to h.
func (k key) matches(h [sha256.Size]byte) bool {
	sum := k.hash()
	return subtle.ConstantTimeCompare(sum[:], h[:]) == 1
}

// parseKey reads a cookie value. Only the exact canonical form is accepted:
// 22 base64url characters, a dot, 43 base64url characters, zero trailing
// bits. Anything else — empty, oversized, other alphabets, padding, NUL,
// non-UTF-8 — is rejected before the store is asked anything.
func parseKey(v string) (key, bool) {
	var k key
	if len(v) != cookieLen || v[selectorLen] != '.' {
		return k, false
	}
	var sel [selectorBytes + 2]byte
	if n, err := b64.Decode(sel[:], []byte(v[:selectorLen])); err != nil || n != selectorBytes {
		return k, false
	}
	var val [validatorBytes + 2]byte
	if n, err := b64.Decode(val[:], []byte(v[selectorLen+1:])); err != nil || n != validatorBytes {
		return k, false
	}
	k.selector = v[:selectorLen]
	copy(k.validator[:], val[:validatorBytes])
	return k, true
}

// ValidSelector reports whether s has the form of a selector (22 canonical
// base64url characters). Stores use it to answer ErrNotFound for hostile
// values without querying their backend.
func ValidSelector(s string) bool {
	if len(s) != selectorLen {
		return false
	}
	var sel [selectorBytes + 2]byte
	n, err := b64.Decode(sel[:], []byte(s))
	return err == nil && n == selectorBytes
}

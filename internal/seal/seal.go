// Package seal is a key ring of AEAD keys for session data: the encrypted
// cookie (store/cookie) and encryption at rest (store/sealed).
//
// The algorithm is XChaCha20-Poly1305 with 32-byte keys and random 24-byte
// nonces (random nonces are safe at this size, so no counter state is shared
// between processes). The first key of the ring seals; every key opens, so a
// new key can be put first without logging anyone out, and an old key is
// dropped once nothing sealed with it is still alive.
//
// A sealed blob is
//
//	version (1 byte) | key ID (4 bytes) | nonce (24 bytes) | ciphertext | tag (16 bytes)
//
// The key ID lets Open pick the right key at once instead of trying each.
// Neither header field needs authenticating: a changed version is refused,
// and a changed key ID names another key (or none), under which the tag
// fails.
//
// Every key is derived once, in New, with HKDF-SHA256 and the ring's
// Purpose, so one operator key can serve the cookie and the at-rest store
// without a blob of one ever opening as the other. Nothing is derived per
// call: Apache's mod_session_crypto ran PBKDF2 on every request and served
// 2.6% of its plain throughput.
package seal

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sizes of a sealed blob.
const (
	// KeySize is the size of a key: 32 bytes.
	KeySize = chacha20poly1305.KeySize
	// KeyIDSize is the size of the key ID in a blob's header.
	KeyIDSize = 4
	// NonceSize is the size of XChaCha20-Poly1305's nonce.
	NonceSize = chacha20poly1305.NonceSizeX
	// TagSize is the size of the authentication tag.
	TagSize = chacha20poly1305.Overhead
	// Prefix is the number of bytes before the ciphertext: version, key ID
	// and nonce.
	Prefix = 1 + KeyIDSize + NonceSize
	// Overhead is what sealing adds to a plaintext: Prefix plus the tag.
	Overhead = Prefix + TagSize
)

// version is the format byte of a blob sealed with XChaCha20-Poly1305.
const version byte = 1

var (
	// ErrOpen: a blob could not be opened — tampered, truncated, sealed for
	// other associated data, or not sealed by this ring at all. Open's
	// errors wrap it.
	ErrOpen = errors.New("seal: cannot open sealed data")
	// ErrUnknownKey: a blob names a key that is not in the ring. It wraps
	// ErrOpen. A store can tell it apart from tampering: it usually means
	// the ring is misconfigured (a node without the current key) or a key
	// was retired while data sealed with it still existed.
	ErrUnknownKey = fmt.Errorf("%w: sealed with a key that is not in the ring", ErrOpen)
	// ErrInvalidKey: a key or key ring that cannot be used. Errors that
	// wrap it name the problem and never contain the key.
	ErrInvalidKey = errors.New("seal: invalid key")
)

// KeyID names a key in a blob's header: the first 4 bytes of the SHA-256 of
// the derived key. It is a fingerprint, not a secret, and may be logged.
type KeyID [KeyIDSize]byte

// String returns the ID in hex.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// Config configures a Ring.
type Config struct {
	// Purpose separates the uses of one key: keys are derived with HKDF
	// under this label, so a blob sealed for one purpose never opens under
	// another. Required; for example "sessiond cookie v1".
	Purpose string
	// Keys are the operator's keys, KeySize bytes each, current key first.
	// New copies what it needs; the caller may wipe them afterwards.
	Keys [][]byte
}

type key struct {
	id   KeyID
	aead cipher.AEAD
}

// Ring seals with its first key and opens with any of its keys. It is
// immutable after New and safe for concurrent use.
type Ring struct {
	keys []key
}

// New derives the ring's keys. It fails, wrapping ErrInvalidKey, if there is
// no key, a key is not KeySize bytes, is all zero, or appears twice.
func New(cfg Config) (*Ring, error) {
	if cfg.Purpose == "" {
		return nil, errors.New("seal: Config.Purpose is empty")
	}
	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("%w: the key ring is empty (at least one %d-byte key is needed)", ErrInvalidKey, KeySize)
	}
	r := &Ring{keys: make([]key, 0, len(cfg.Keys))}
	ids := make(map[KeyID]int, len(cfg.Keys))
	for i, raw := range cfg.Keys {
		if err := checkKey(raw); err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrInvalidKey, i+1, err)
		}
		sub, err := hkdf.Key(sha256.New, raw, nil, "sessiond seal: "+cfg.Purpose, KeySize)
		if err != nil {
			return nil, fmt.Errorf("seal: deriving key %d: %w", i+1, err)
		}
		sum := sha256.Sum256(sub)
		id := KeyID(sum[:KeyIDSize])
		if j, dup := ids[id]; dup {
			if string(cfg.Keys[j]) == string(raw) {
				return nil, fmt.Errorf("%w: keys %d and %d are the same key", ErrInvalidKey, j+1, i+1)
			}
			// Two keys sharing a 4-byte ID (odds 2^-32): refuse, so that an
			// ID always names exactly one key.
			return nil, fmt.Errorf("%w: keys %d and %d have the same key ID %s; generate another key", ErrInvalidKey, j+1, i+1, id)
		}
		ids[id] = i
		aead, err := chacha20poly1305.NewX(sub)
		clear(sub)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i+1, err)
		}
		r.keys = append(r.keys, key{id: id, aead: aead})
	}
	return r, nil
}

// checkKey returns a reason (never the key) if raw is unusable.
func checkKey(raw []byte) error {
	if len(raw) != KeySize {
		return fmt.Errorf("%d bytes, want %d", len(raw), KeySize)
	}
	var zero [KeySize]byte
	if string(raw) == string(zero[:]) {
		return errors.New("all zero bytes (a placeholder, not a key)")
	}
	return nil
}

// KeyIDs lists the ring's key IDs, current key first (for diagnostics).
func (r *Ring) KeyIDs() []KeyID {
	out := make([]KeyID, len(r.keys))
	for i, k := range r.keys {
		out[i] = k.id
	}
	return out
}

// SealedLen is the length of the blob that sealing n plaintext bytes yields.
func SealedLen(n int) int { return n + Overhead }

// Seal appends the sealed form of plaintext, bound to ad (associated data,
// not encrypted but authenticated), to dst and returns the result. dst must
// not overlap plaintext; with enough capacity in dst, Seal does not
// allocate beyond what the cipher itself needs.
func (r *Ring) Seal(dst, plaintext, ad []byte) []byte {
	k := &r.keys[0]
	dst = append(dst, version)
	dst = append(dst, k.id[:]...)
	start := len(dst)
	dst = append(dst, make([]byte, NonceSize)...)
	nonce := dst[start:]
	_, _ = rand.Read(nonce) // crypto/rand.Read never returns an error (Go 1.24+)
	return k.aead.Seal(dst, nonce, plaintext, ad)
}

// SealInPlace seals buf[Prefix:] in its own storage: buf[:Prefix] is
// scratch space for the header and nonce, and the plaintext follows it. It
// returns the blob, which is buf extended by TagSize bytes (reallocated only
// if buf lacks that capacity). A buf shorter than Prefix is an error.
func (r *Ring) SealInPlace(buf, ad []byte) ([]byte, error) {
	if len(buf) < Prefix {
		return nil, fmt.Errorf("seal: SealInPlace buffer is %d bytes, shorter than the %d-byte prefix", len(buf), Prefix)
	}
	k := &r.keys[0]
	buf[0] = version
	copy(buf[1:], k.id[:])
	nonce := buf[1+KeyIDSize : Prefix]
	_, _ = rand.Read(nonce)
	// The ciphertext overwrites the plaintext exactly, which cipher.AEAD
	// allows; the header and nonce before it are not touched.
	return k.aead.Seal(buf[:Prefix], nonce, buf[Prefix:], ad), nil
}

// Open appends the plaintext of sealed to dst, checking it against ad. dst
// must not overlap sealed (use OpenInPlace for that). Any failure wraps
// ErrOpen (ErrUnknownKey when the blob names no key of the ring); the error
// names the reason and the key ID, never key material.
func (r *Ring) Open(dst, sealed, ad []byte) ([]byte, error) {
	return r.open(dst, sealed, ad, false)
}

// OpenInPlace decrypts sealed in its own storage and returns the plaintext,
// a sub-slice of sealed. sealed is overwritten, also on failure.
func (r *Ring) OpenInPlace(sealed, ad []byte) ([]byte, error) {
	return r.open(nil, sealed, ad, true)
}

func (r *Ring) open(dst, sealed, ad []byte, inPlace bool) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte minimum", ErrOpen, len(sealed), Overhead)
	}
	if sealed[0] != version {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrOpen, sealed[0])
	}
	id := KeyID(sealed[1 : 1+KeyIDSize])
	k := r.find(id)
	if k == nil {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, id)
	}
	nonce := sealed[1+KeyIDSize : Prefix]
	ct := sealed[Prefix:]
	if inPlace {
		dst = ct[:0] // exact overlap, which cipher.AEAD allows
	}
	pt, err := k.aead.Open(dst, nonce, ct, ad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed under key %s (tampered, truncated, or sealed for other associated data)", ErrOpen, id)
	}
	return pt, nil
}

// find returns the key with ID id (New guarantees at most one), or nil.
func (r *Ring) find(id KeyID) *key {
	for i := range r.keys {
		if r.keys[i].id == id {
			return &r.keys[i]
		}
	}
	return nil
}

// BlobKeyID returns the key ID a blob names, for diagnostics (for example
// "sealed with key 1a2b3c4d, which this node does not have"). ok is false
// if sealed is too short or of an unknown version.
func BlobKeyID(sealed []byte) (id KeyID, ok bool) {
	if len(sealed) < Overhead || sealed[0] != version {
		return id, false
	}
	return KeyID(sealed[1 : 1+KeyIDSize]), true
}

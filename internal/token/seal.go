package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
)

// An obsolete ID must be able to lead its holder to the ID that replaced it
// (the grace window of a regeneration), yet the store must hold no usable ID.
// So the successor is sealed with a key that only the holder of the old ID can
// derive: AES-256-GCM under HMAC-SHA256(old ID bytes, label). A dump of the
// store yields hashes and sealed blobs, neither of which opens a session.

var sealLabel = []byte("sessiond alias successor v1")

func aliasAEAD(oldID string) (cipher.AEAD, bool) {
	raw, ok := decode(oldID)
	if !ok {
		return nil, false
	}
	m := hmac.New(sha256.New, raw[:])
	m.Write(sealLabel)
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, false
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, false
	}
	return aead, true
}

// SealSuccessor seals next so that only a holder of old can read it.
func SealSuccessor(old, next string) []byte {
	aead, ok := aliasAEAD(old)
	if !ok {
		return nil
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(next)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(next), nil)
}

// OpenSuccessor opens a blob made by SealSuccessor with the old ID.
func OpenSuccessor(old string, sealed []byte) (string, bool) {
	aead, ok := aliasAEAD(old)
	if !ok || len(sealed) < aead.NonceSize() {
		return "", false
	}
	ns := aead.NonceSize()
	pt, err := aead.Open(nil, sealed[:ns], sealed[ns:], nil)
	if err != nil {
		return "", false
	}
	next := string(pt)
	if _, ok := Parse(next); !ok {
		return "", false
	}
	return next, true
}

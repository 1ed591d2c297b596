package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"strings"
)

// An obsolete ID must be able to lead its holder to the ID that replaced it
// (the grace window of a regeneration), yet the store must hold no usable ID.
// So the successor is sealed with a key that only the holder of the old ID can
// derive: AES-256-GCM under HMAC-SHA256(old ID bytes, label). A dump of the
// store yields hashes and sealed blobs, neither of which opens a session.

var (
	sealLabel  = []byte("sessiond alias successor v1")
	loginLabel = []byte("sessiond login successor v1")
)

func aliasAEAD(oldID string) (cipher.AEAD, bool) { return labelAEAD(oldID, sealLabel) }

func labelAEAD(oldID string, label []byte) (cipher.AEAD, bool) {
	raw, ok := decode(oldID)
	if !ok {
		return nil, false
	}
	m := hmac.New(sha256.New, raw[:])
	m.Write(label)
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
func SealSuccessor(old, next string) []byte { return seal(old, next, sealLabel, nil) }

// OpenSuccessor opens a blob made by SealSuccessor with the old ID.
func OpenSuccessor(old string, sealed []byte) (string, bool) {
	return open(old, sealed, sealLabel, nil)
}

// SealLoginSuccessor seals the ID a login of user issued in place of old,
// for a concurrent login of the same user on the same session: only a
// request that holds old AND has just authenticated as user can open it
// (OpenLoginSuccessor). OpenSuccessor never opens it, so a replay of the
// pre-login ID (fixation) never leads to the signed-in session.
func SealLoginSuccessor(old, user, next string) []byte {
	return seal(old, next, loginLabel, []byte(user))
}

// OpenLoginSuccessor opens a blob made by SealLoginSuccessor.
func OpenLoginSuccessor(old, user string, sealed []byte) (string, bool) {
	return open(old, sealed, loginLabel, []byte(user))
}

// SealLoginPair is SealLoginSuccessor for a mixed-mode login over HTTPS,
// which replaces both IDs: old is the pre-login secure ID (it never
// travels over plain HTTP), and the pair is the new secure and insecure ID.
func SealLoginPair(old, user, secure, insecure string) []byte {
	return seal(old, secure+"."+insecure, loginLabel, []byte(user))
}

// OpenLoginPair opens a blob made by SealLoginPair.
func OpenLoginPair(old, user string, sealed []byte) (secure, insecure string, ok bool) {
	pt, ok := openRaw(old, sealed, loginLabel, []byte(user))
	if !ok {
		return "", "", false
	}
	secure, insecure, ok = strings.Cut(pt, ".")
	if _, sok := Parse(secure); !ok || !sok {
		return "", "", false
	}
	if _, iok := Parse(insecure); !iok {
		return "", "", false
	}
	return secure, insecure, true
}

func seal(old, next string, label, ad []byte) []byte {
	aead, ok := labelAEAD(old, label)
	if !ok {
		return nil
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(next)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(next), ad)
}

func openRaw(old string, sealed, label, ad []byte) (string, bool) {
	aead, ok := labelAEAD(old, label)
	if !ok || len(sealed) < aead.NonceSize() {
		return "", false
	}
	ns := aead.NonceSize()
	pt, err := aead.Open(nil, sealed[:ns], sealed[ns:], ad)
	if err != nil {
		return "", false
	}
	return string(pt), true
}

func open(old string, sealed, label, ad []byte) (string, bool) {
	next, ok := openRaw(old, sealed, label, ad)
	if !ok {
		return "", false
	}
	if _, ok := Parse(next); !ok {
		return "", false
	}
	return next, true
}

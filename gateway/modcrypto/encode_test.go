package modcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"testing"
)

// sealed is a cookie built in the tests with an encoder written from the
// format (mod_session_crypto's encrypt_string): MAC | salt | IV | CBC
// ciphertext, base64. Fields can be fixed to make golden values, or left nil
// for random ones.
type sealed struct {
	pass    string
	payload string
	salt    []byte
	iv      []byte
	keyLen  int  // 0: 32 (aes256)
	badPad  bool // pad with wrong bytes (still authenticated)
	noMAC   bool // pre-2.4.25 layout: salt | IV | ciphertext
}

func (s sealed) encode(t testing.TB) string {
	t.Helper()
	salt, iv := s.salt, s.iv
	if salt == nil {
		salt = make([]byte, saltSize)
		rand.Read(salt)
	}
	if iv == nil {
		iv = make([]byte, ivSize)
		rand.Read(iv)
	}
	keyLen := s.keyLen
	if keyLen == 0 {
		keyLen = 32
	}
	key, err := pbkdf2.Key(sha1.New, s.pass, salt, iterations, keyLen)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte(s.payload)
	n := aes.BlockSize - len(pt)%aes.BlockSize
	for range n {
		if s.badPad {
			pt = append(pt, 0x42)
		} else {
			pt = append(pt, byte(n))
		}
	}
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)

	body := append(append(append([]byte{}, salt...), iv...), ct...)
	if s.noMAC {
		return base64.StdEncoding.EncodeToString(body)
	}
	macKey := md5.Sum([]byte(s.pass))
	mac := siphashAuth(&macKey, body)
	return base64.StdEncoding.EncodeToString(append(mac[:], body...))
}

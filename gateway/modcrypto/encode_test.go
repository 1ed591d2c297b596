package modcrypto

import (
	"testing"
	"time"
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
	keyLen := s.keyLen
	if keyLen == 0 {
		keyLen = 32
	}
	var pad byte
	if s.badPad {
		pad = 0x42
	}
	v, err := encrypt(s.pass, s.payload, s.salt, s.iv, keyLen, pad, !s.noMAC)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEncodeRoundTrip(t *testing.T) {
	v, err := Encode("secret", map[string]string{"user": "bob", "note": "a b/c"}, testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder(t, Options{Now: func() time.Time { return testNow }}, "secret")
	s, err := d.Decode(v)
	if err != nil || s.Values["user"] != "bob" || s.Values["note"] != "a b/c" || !s.Expiry.Equal(testNow.Add(time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("Decode(Encode()) = %+v, %v", s, err)
	}
}

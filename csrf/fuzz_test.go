package csrf

import (
	"encoding/base64"
	"testing"
)

// FuzzUnmask feeds arbitrary strings to the token decoder: it must never
// panic, must accept exactly the canonical 86-character base64url encodings
// of 64 bytes, and what it accepts must unmask to pad XOR masked.
func FuzzUnmask(f *testing.F) {
	var secret [secretLen]byte
	f.Add(mask(&secret))
	f.Add(mask(&secret)[:10] + "\r\n" + mask(&secret)[12:]) // newlines are skipped by encoding/base64, not here
	f.Add(mask(&secret) + "\n")
	f.Add("")
	f.Add("====")
	f.Add(string(make([]byte, TokenLen)))
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := unmask(s)
		// The stdlib decoder skips '\r' and '\n': canonical means s
		// re-encodes to itself.
		raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
		want := err == nil && len(raw) == maskedLen && base64.RawURLEncoding.EncodeToString(raw) == s
		if ok != want {
			t.Fatalf("unmask(%q) ok=%v, encoding/base64 says %v", s, ok, want)
		}
		if !ok {
			return
		}
		for i := range secretLen {
			if got[i] != raw[i]^raw[secretLen+i] {
				t.Fatalf("byte %d unmasked wrong", i)
			}
		}
		if !verify(&got, s) || !verify(&got, mask(&got)) {
			t.Fatal("decoded secret does not verify its own token")
		}
	})
}

package token

import (
	"encoding/base64"
	"testing"
)

func FuzzParse(f *testing.F) {
	id, _ := New()
	f.Add(id)
	f.Add("")
	f.Add("../../etc/passwd")
	f.Add(id[:10] + "\n" + id[10:]) // the stdlib decoder skips newlines; Parse must not
	f.Add(id[:10] + "\r" + id[10:])
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := Parse(s)
		// The stdlib decoder skips '\r' and '\n'; an ID has exactly one
		// spelling, so the oracle also asks that s re-encodes to itself.
		raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
		want := err == nil && len(raw) == Size && base64.RawURLEncoding.EncodeToString(raw) == s
		if ok != want {
			t.Fatalf("Parse(%q) ok=%v, stdlib says %v", s, ok, want)
		}
		if ok && h.IsZero() {
			t.Fatal("zero hash for a valid ID")
		}
	})
}

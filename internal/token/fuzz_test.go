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
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := Parse(s)
		raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
		want := err == nil && len(raw) == Size
		if ok != want {
			t.Fatalf("Parse(%q) ok=%v, stdlib says %v", s, ok, want)
		}
		if ok && h.IsZero() {
			t.Fatal("zero hash for a valid ID")
		}
	})
}

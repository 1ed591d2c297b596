package remember

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzParseKey: the cookie parser never panics, accepts exactly the
// canonical form, and what it accepts prints back to the same value.
func FuzzParseKey(f *testing.F) {
	f.Add(newKey().value())
	k := newKey().value()
	f.Add(k[:5] + "\n" + k[5:]) // newlines are skipped by encoding/base64, not here
	f.Add("")
	f.Add(".")
	f.Add(strings.Repeat("A", selectorLen) + "." + strings.Repeat("A", validatorLen))
	f.Add("../../etc/passwd")
	f.Fuzz(func(t *testing.T, s string) {
		k, ok := parseKey(s)
		sel, val, found := strings.Cut(s, ".")
		// The stdlib decoder skips '\r' and '\n': canonical means each
		// part re-encodes to itself.
		rs, errS := base64.RawURLEncoding.Strict().DecodeString(sel)
		rv, errV := base64.RawURLEncoding.Strict().DecodeString(val)
		enc := base64.RawURLEncoding.EncodeToString
		okS := errS == nil && len(rs) == selectorBytes && enc(rs) == sel
		okV := errV == nil && len(rv) == validatorBytes && enc(rv) == val
		want := found && okS && okV
		if ok != want {
			t.Fatalf("parseKey(%q) ok=%v, encoding/base64 says %v", s, ok, want)
		}
		if ok && k.value() != s {
			t.Fatalf("parseKey(%q) prints back as %q", s, k.value())
		}
		if ValidSelector(sel) != okS {
			t.Fatalf("ValidSelector(%q) disagrees with encoding/base64", sel)
		}
	})
}

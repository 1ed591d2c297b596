package remember

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestKeyRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k := newKey()
		v := k.value()
		if len(v) != cookieLen || seen[k.selector] {
			t.Fatalf("bad or repeated key %d chars", len(v))
		}
		seen[k.selector] = true
		back, ok := parseKey(v)
		if !ok || back != k {
			t.Fatal("parseKey(value()) lost the key")
		}
		if !back.matches(k.hash()) {
			t.Fatal("key does not match its own hash")
		}
		if !ValidSelector(k.selector) {
			t.Fatal("selector rejected")
		}
	}
}

func TestParseKeyRejects(t *testing.T) {
	good := newKey().value()
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"selector only", good[:selectorLen]},
		{"no dot", strings.Replace(good, ".", "A", 1)},
		{"two dots", good[:selectorLen] + ".." + good[selectorLen+2:]},
		{"too long", good + "A"},
		{"padding", good[:cookieLen-1] + "="},
		{"std alphabet", good[:cookieLen-1] + "/"},
		{"non-canonical selector", good[:selectorLen-1] + "B" + good[selectorLen:]},
		{"non-canonical validator", good[:cookieLen-1] + "B"},
		{"space", good[:5] + " " + good[6:]},
		{"NUL", good[:5] + "\x00" + good[6:]},
		{"non-UTF-8", good[:5] + "\xff" + good[6:]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := parseKey(tc.in); ok {
				t.Fatalf("parseKey(%q) accepted", tc.in)
			}
		})
	}
}

func TestMatchesIsExact(t *testing.T) {
	k, other := newKey(), newKey()
	if k.matches(other.hash()) {
		t.Fatal("a key matched another key's hash")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(k.value()[selectorLen+1:])
	if string(raw) != string(k.validator[:]) {
		t.Fatal("cookie does not carry the validator")
	}
}

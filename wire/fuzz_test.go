package wire

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

// FuzzDecodeChanges: any input decodes without panic; what decodes
// re-encodes and decodes to the same values.
func FuzzDecodeChanges(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "a=&b", "%", "%zz=1", "a=%00", "k=%c3%a9+x", "&&=&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeChanges(s)
		if err != nil && !errors.Is(err, ErrBadEncoding) {
			t.Fatalf("unexpected error type: %v", err)
		}
		for _, k := range c.Delete {
			if _, ok := c.Set[k]; ok {
				t.Fatalf("key %q both set and deleted", k)
			}
		}
		back, err := DecodeValues(EncodeValues(c.Set))
		if err != nil {
			t.Fatalf("re-decode of our own encoding failed: %v", err)
		}
		if !maps.Equal(back, c.Set) {
			t.Fatalf("round trip changed values: %v -> %v", c.Set, back)
		}
	})
}

// FuzzHTTPDPairs: any table decodes without panic, and no pair it yields
// has an empty key or a NUL.
func FuzzHTTPDPairs(f *testing.F) {
	f.Add("user=alice&cart=1%2C2+3&expiry=1795305212562140")
	f.Add("=&==&%&%%&a=%00")
	f.Add("a==b=c&&&k=%zz")
	f.Fuzz(func(t *testing.T, s string) {
		for k, v := range HTTPDPairs(s) {
			if k == "" || strings.ContainsRune(k+v, 0) {
				t.Fatalf("bad pair %q=%q yielded", k, v)
			}
		}
	})
}

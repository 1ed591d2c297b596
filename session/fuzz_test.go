package session

import (
	"errors"
	"maps"
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

// FuzzUnmarshalRecord: a corrupt stored row never panics, and what decodes
// re-encodes to something that decodes the same.
func FuzzUnmarshalRecord(f *testing.F) {
	b, _ := MarshalRecord(&Record{Ref: "r", Data: map[string]string{"a": "b"}, Version: 1})
	f.Add(b)
	f.Add([]byte{1})
	b, _ = MarshalRecord(&Record{Ref: "r", Realm: "shop", User: "alice", Version: 3})
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := UnmarshalRecord(in)
		if err != nil {
			return
		}
		out, _ := MarshalRecord(r)
		r2, err := UnmarshalRecord(out)
		if err != nil || r2.Ref != r.Ref || r2.Realm != r.Realm || len(r2.Data) != len(r.Data) || r2.Version != r.Version {
			t.Fatalf("re-decode differs: %v", err)
		}
	})
}

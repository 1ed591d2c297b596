package seal

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

// FuzzOpen: no input makes Open or OpenInPlace panic; without the key
// nothing opens except what the ring sealed itself (the seeds).
func FuzzOpen(f *testing.F) {
	// The keys are fixed, so seeds sealed by the coordinating process open
	// in the fuzzing workers too; their nonces differ per process.
	r := mustRing(f, "fuzz", testKey(1), testKey(2))
	plaintexts := map[string]bool{}
	for _, pt := range []string{"", "a", "user=alice&cart=1,2"} {
		plaintexts[pt] = true
		f.Add(r.Seal(nil, []byte(pt), []byte("ad")), []byte("ad"))
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 0, 0, 0, 0}, []byte("ad"))
	f.Fuzz(func(t *testing.T, blob, ad []byte) {
		pt, err := r.Open(nil, blob, ad)
		pt2, err2 := r.OpenInPlace(append([]byte(nil), blob...), ad)
		if (err == nil) != (err2 == nil) || string(pt) != string(pt2) {
			t.Fatalf("Open and OpenInPlace disagree: %v / %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("error %v does not wrap ErrOpen", err)
			}
			return
		}
		if !plaintexts[string(pt)] || string(ad) != "ad" {
			t.Fatalf("a blob the ring never sealed opened: %q", pt)
		}
	})
}

// FuzzParseKey: no panic, and an error never echoes the input.
func FuzzParseKey(f *testing.F) {
	f.Add(FormatKey(testKey(7)))
	f.Add(strings.Repeat("ab", 32))
	f.Add("not a key")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err == nil {
			if len(k) != KeySize {
				t.Fatalf("accepted a %d-byte key", len(k))
			}
			return
		}
		if !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("error %v does not wrap ErrInvalidKey", err)
		}
		if in := strings.TrimSpace(s); len(in) >= 12 && strings.Contains(err.Error(), in[:12]) {
			t.Fatalf("error %q echoes the input", err)
		}
	})
}

// FuzzReader: arbitrary bytes never panic the decoder; a map it accepts
// encodes and decodes back to itself.
func FuzzReader(f *testing.F) {
	f.Add(string(AppendValues(nil, map[string]string{"a": "1", "": ""})))
	f.Add("\x03\x00\x00")
	f.Add("\xff\xff\xff\xff\x0f")
	f.Fuzz(func(t *testing.T, s string) {
		r := NewReader(s)
		m := r.Values()
		tm := r.Time(0)
		if r.Err() != nil {
			return
		}
		b := AppendTime(AppendValues(nil, m), tm, 0)
		r2 := NewReader(string(b))
		m2, tm2 := r2.Values(), r2.Time(0)
		if r2.Err() != nil || r2.Len() != 0 || !maps.Equal(m, m2) || !tm.Equal(tm2) {
			t.Fatalf("round trip failed: %v; %v -> %v", r2.Err(), m, m2)
		}
	})
}

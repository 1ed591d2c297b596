package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func mustRing(t testing.TB, purpose string, keys ...[]byte) *Ring {
	t.Helper()
	r, err := New(Config{Purpose: purpose, Keys: keys})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestNewRejects(t *testing.T) {
	secret := testKey(0x5a)
	cases := []struct {
		name    string
		cfg     Config
		invalid bool // wraps ErrInvalidKey
		want    string
	}{
		{"no purpose", Config{Keys: [][]byte{secret}}, false, "Purpose is empty"},
		{"no keys", Config{Purpose: "p"}, true, "empty"},
		{"short key", Config{Purpose: "p", Keys: [][]byte{secret[:31]}}, true, "key 1: 31 bytes, want 32"},
		{"long key", Config{Purpose: "p", Keys: [][]byte{testKey(1), append(testKey(2), 0)}}, true, "key 2: 33 bytes, want 32"},
		{"zero key", Config{Purpose: "p", Keys: [][]byte{make([]byte, KeySize)}}, true, "all zero"},
		{"same key twice", Config{Purpose: "p", Keys: [][]byte{secret, testKey(1), secret}}, true, "keys 1 and 3 are the same key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil {
				t.Fatal("New accepted a bad config")
			}
			if errors.Is(err, ErrInvalidKey) != tc.invalid {
				t.Errorf("errors.Is(err, ErrInvalidKey) = %v, want %v (err: %v)", !tc.invalid, tc.invalid, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), string(secret[:8])) || strings.Contains(err.Error(), FormatKey(secret)[:8]) {
				t.Errorf("error %q contains key material", err)
			}
		})
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	r := mustRing(t, "test", testKey(1))
	cases := []struct {
		name   string
		pt, ad []byte
	}{
		{"empty", nil, nil},
		{"one byte", []byte{0}, []byte("sid")},
		{"text", []byte("cart=1,2,3&user=alice"), []byte("ref-123")},
		{"4 KiB", bytes.Repeat([]byte("x"), 4096), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			blob := r.Seal(nil, tc.pt, tc.ad)
			if len(blob) != SealedLen(len(tc.pt)) {
				t.Fatalf("len(blob) = %d, want %d", len(blob), SealedLen(len(tc.pt)))
			}
			if len(tc.pt) >= 8 && bytes.Contains(blob, tc.pt[:8]) {
				t.Fatal("plaintext visible in the blob")
			}
			got, err := r.Open(nil, blob, tc.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.pt) {
				t.Fatalf("Open = %q, want %q", got, tc.pt)
			}
			// Append-style: existing dst content is kept.
			got, err = r.Open([]byte("pre:"), blob, tc.ad)
			if err != nil || string(got) != "pre:"+string(tc.pt) {
				t.Fatalf("Open with dst = %q, %v", got, err)
			}
			sealed := r.Seal([]byte("pre:"), tc.pt, tc.ad)
			if string(sealed[:4]) != "pre:" {
				t.Fatal("Seal did not append to dst")
			}
			// In place, both ways.
			buf := append(make([]byte, Prefix, Prefix+len(tc.pt)+TagSize), tc.pt...)
			blob2, err := r.SealInPlace(buf, tc.ad)
			if err != nil {
				t.Fatal(err)
			}
			pt, err := r.OpenInPlace(blob2, tc.ad)
			if err != nil || !bytes.Equal(pt, tc.pt) {
				t.Fatalf("OpenInPlace = %q, %v", pt, err)
			}
		})
	}
}

func TestNoncesDiffer(t *testing.T) {
	r := mustRing(t, "test", testKey(1))
	a, b := r.Seal(nil, []byte("same"), nil), r.Seal(nil, []byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical: nonce reused")
	}
}

func TestRotation(t *testing.T) {
	oldK, newK := testKey(1), testKey(2)
	oldRing := mustRing(t, "test", oldK)
	rotated := mustRing(t, "test", newK, oldK) // new key first: seals with it
	retired := mustRing(t, "test", newK)       // old key dropped
	ad := []byte("ad")
	oldBlob := oldRing.Seal(nil, []byte("old"), ad)
	newBlob := rotated.Seal(nil, []byte("new"), ad)

	cases := []struct {
		name    string
		ring    *Ring
		blob    []byte
		want    string
		unknown bool
	}{
		{"old blob opens after rotation", rotated, oldBlob, "old", false},
		{"new blob opens with the new ring", rotated, newBlob, "new", false},
		{"new blob opens after retirement", retired, newBlob, "new", false},
		{"old blob refused after retirement", retired, oldBlob, "", true},
		{"new blob refused by a node without the new key", oldRing, newBlob, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ring.Open(nil, tc.blob, ad)
			if tc.unknown {
				if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrOpen) {
					t.Fatalf("Open = %q, %v; want ErrUnknownKey (wrapping ErrOpen)", got, err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("Open = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if id, ok := BlobKeyID(newBlob); !ok || id != rotated.KeyIDs()[0] {
		t.Fatalf("new blob names key %v, want the first key %v", id, rotated.KeyIDs()[0])
	}
}

// Every change to a blob — each bit of each byte, each truncation, an
// extension, other associated data, another purpose — is refused.
func TestOpenRefusesTampering(t *testing.T) {
	r := mustRing(t, "test", testKey(1), testKey(2))
	ad := []byte("sid")
	blob := r.Seal(nil, []byte("user=alice&role=admin"), ad)
	check := func(t *testing.T, b, ad []byte) {
		t.Helper()
		if pt, err := r.Open(nil, b, ad); !errors.Is(err, ErrOpen) {
			t.Fatalf("tampered blob opened: %q, %v", pt, err)
		}
		if pt, err := r.OpenInPlace(bytes.Clone(b), ad); !errors.Is(err, ErrOpen) {
			t.Fatalf("tampered blob opened in place: %q, %v", pt, err)
		}
	}
	t.Run("bit flips", func(t *testing.T) {
		for i := range blob {
			for bit := range 8 {
				b := bytes.Clone(blob)
				b[i] ^= 1 << bit
				check(t, b, ad)
			}
		}
	})
	t.Run("truncation", func(t *testing.T) {
		for n := range len(blob) {
			check(t, blob[:n], ad)
		}
	})
	t.Run("extension", func(t *testing.T) { check(t, append(bytes.Clone(blob), 0), ad) })
	t.Run("other associated data", func(t *testing.T) { check(t, blob, []byte("sie")) })
	t.Run("no associated data", func(t *testing.T) { check(t, blob, nil) })
	t.Run("key ID of the other ring key", func(t *testing.T) {
		b := bytes.Clone(blob)
		id := r.KeyIDs()[1]
		copy(b[1:], id[:])
		check(t, b, ad)
	})
	t.Run("other purpose, same key", func(t *testing.T) {
		other := mustRing(t, "other", testKey(1), testKey(2))
		if pt, err := other.Open(nil, blob, ad); !errors.Is(err, ErrOpen) {
			t.Fatalf("blob opened under another purpose: %q, %v", pt, err)
		}
	})
}

func TestKeyIDs(t *testing.T) {
	a := mustRing(t, "cookie", testKey(1), testKey(2))
	b := mustRing(t, "at-rest", testKey(1))
	ids := a.KeyIDs()
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("KeyIDs = %v, want two distinct IDs", ids)
	}
	if ids[0] == b.KeyIDs()[0] {
		t.Fatal("one key has the same ID under two purposes")
	}
	if s := ids[0].String(); len(s) != 2*KeyIDSize {
		t.Fatalf("KeyID.String() = %q", s)
	}
}

func TestSealInPlaceShortBuffer(t *testing.T) {
	r := mustRing(t, "test", testKey(1))
	if _, err := r.SealInPlace(make([]byte, Prefix-1), nil); err == nil {
		t.Fatal("SealInPlace accepted a buffer shorter than Prefix")
	}
}

func BenchmarkSeal(b *testing.B) {
	r := mustRing(b, "bench", testKey(1))
	pt := bytes.Repeat([]byte("x"), 200)
	dst := make([]byte, 0, SealedLen(len(pt)))
	ad := []byte("sid")
	b.ReportAllocs()
	for b.Loop() {
		dst = r.Seal(dst[:0], pt, ad)
	}
}

func BenchmarkOpen(b *testing.B) {
	r := mustRing(b, "bench", testKey(1))
	ad := []byte("sid")
	blob := r.Seal(nil, bytes.Repeat([]byte("x"), 200), ad)
	dst := make([]byte, 0, len(blob))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = r.Open(dst[:0], blob, ad); err != nil {
			b.Fatal(err)
		}
	}
}

package token

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestNewParseRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, h := New()
		if len(id) != Len {
			t.Fatalf("len(id) = %d, want %d", len(id), Len)
		}
		if seen[id] {
			t.Fatalf("duplicate ID after %d draws", len(seen))
		}
		seen[id] = true
		got, ok := Parse(id)
		if !ok || got != h {
			t.Fatalf("Parse(New()) = %v, %v; want the same hash", got.Hex(), ok)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(id)
		if sha256.Sum256(raw) != [32]byte(h) {
			t.Fatal("hash is not SHA-256 of the raw ID bytes")
		}
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := New()
	cases := map[string]string{
		"empty":         "",
		"short":         good[:42],
		"long":          good + "A",
		"padding":       good[:42] + "=",
		"std alphabet":  good[:42] + "+",
		"dot dot slash": "../" + good[3:],
		"NUL":           good[:20] + "\x00" + good[21:],
		"non UTF-8":     good[:20] + "\xff" + good[21:],
		"16KB":          strings.Repeat("A", 16<<10),
		"noncanonical":  good[:42] + "B", // 'B' sets a low bit that must be zero
		"space":         good[:42] + " ",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, ok := Parse(in); ok {
				t.Fatalf("Parse(%q) accepted", in)
			}
		})
	}
}

func TestParseMatchesStdlib(t *testing.T) {
	for range 200 {
		id, _ := New()
		raw, ok := decode(id)
		std, err := base64.RawURLEncoding.Strict().DecodeString(id)
		if !ok || err != nil || string(raw[:]) != string(std) {
			t.Fatalf("decode disagrees with encoding/base64 on %q", id)
		}
	}
}

func TestParseNoAlloc(t *testing.T) {
	id, _ := New()
	if n := testing.AllocsPerRun(100, func() { Parse(id) }); n != 0 {
		t.Fatalf("Parse allocates %v times, want 0", n)
	}
}

func TestSuccessorSeal(t *testing.T) {
	old, _ := New()
	next, _ := New()
	other, _ := New()
	blob := SealSuccessor(old, next)
	if got, ok := OpenSuccessor(old, blob); !ok || got != next {
		t.Fatalf("OpenSuccessor with the old ID = %q, %v", got, ok)
	}
	if _, ok := OpenSuccessor(other, blob); ok {
		t.Fatal("another ID opened the successor")
	}
	blob[len(blob)-1] ^= 1
	if _, ok := OpenSuccessor(old, blob); ok {
		t.Fatal("a flipped bit still opened")
	}
	if strings.Contains(string(blob), next) {
		t.Fatal("successor visible in the sealed blob")
	}
}

// A mixed-mode login's pair opens only with the old secure ID and the
// same user, and never through the one-ID openers (a replayed pre-login
// ID must not reach the signed-in session).
func TestLoginPairSeal(t *testing.T) {
	old, _ := New()
	sec, _ := New()
	ins, _ := New()
	blob := SealLoginPair(old, "alice", sec, ins)
	if s, i, ok := OpenLoginPair(old, "alice", blob); !ok || s != sec || i != ins {
		t.Fatalf("OpenLoginPair = %q, %q, %v", s, i, ok)
	}
	tests := []struct {
		name string
		open func() bool
	}{
		{"another user", func() bool { _, _, ok := OpenLoginPair(old, "bob", blob); return ok }},
		{"another ID", func() bool { _, _, ok := OpenLoginPair(sec, "alice", blob); return ok }},
		{"as a successor", func() bool { _, ok := OpenSuccessor(old, blob); return ok }},
		{"as one login successor", func() bool { _, ok := OpenLoginSuccessor(old, "alice", blob); return ok }},
		{"a one-ID blob as a pair", func() bool {
			_, _, ok := OpenLoginPair(old, "alice", SealLoginSuccessor(old, "alice", sec))
			return ok
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.open() {
				t.Fatal("opened")
			}
		})
	}
}

func TestHashText(t *testing.T) {
	_, h := New()
	b, _ := h.MarshalText()
	var back Hash
	if err := back.UnmarshalText(b); err != nil || back != h {
		t.Fatalf("round trip: %v", err)
	}
	if err := back.UnmarshalText([]byte("zz")); err == nil {
		t.Fatal("bad hex accepted")
	}
	if h.String() != "[id-hash]" {
		t.Fatal("String leaks the hash")
	}
}

// An ID's hash depends on the realm: the same ID presented to another realm
// names nothing there, whatever the store.
func TestRealmBoundHash(t *testing.T) {
	id, hShop := NewIn("shop")
	got, ok := ParseIn("shop", id)
	if !ok || got != hShop {
		t.Fatal("ParseIn in the issuing realm does not give the issued hash")
	}
	seen := map[Hash]string{hShop: "shop"}
	for _, realm := range []string{"", "outlet", "sho", "shop ", "Shop", "shopshop"} {
		h, ok := ParseIn(realm, id)
		if !ok {
			t.Fatalf("ParseIn(%q) refused a well-formed ID", realm)
		}
		if other, dup := seen[h]; dup {
			t.Fatalf("realms %q and %q give the same hash for one ID", realm, other)
		}
		seen[h] = realm
	}
	plain, _ := Parse(id)
	if empty, _ := ParseIn("", id); empty != plain {
		t.Fatal("the empty realm must keep the plain SHA-256 (records made before realms)")
	}
}

// The realm-bound hash costs what the plain one does: one SHA-256 block,
// no allocation.
func BenchmarkParseIn(b *testing.B) {
	id, _ := New()
	for _, realm := range []string{"", "shop.example.com"} {
		b.Run("realm="+realm, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := ParseIn(realm, id); !ok {
					b.Fatal("refused")
				}
			}
		})
	}
}

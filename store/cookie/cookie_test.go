package cookie_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
)

const pan = "4111111111111111"

// t0 is the tests' "now".
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newCodec(t testing.TB, cfg cookie.Config) *cookie.Codec {
	t.Helper()
	c, err := cookie.New(cfg)
	if err != nil {
		t.Fatalf("cookie.New: %v", err)
	}
	return c
}

// typical is a logged-in session with five keys, as the benchmarks use.
func typical() *session.Record {
	return &session.Record{
		Ref:       token.Ref(),
		User:      "alice",
		Data:      map[string]string{"cart": "1,2,3", "csrf": "q1w2e3r4t5y6u7i8o9p0", "lang": "en", "theme": "dark", "secure.pan": pan},
		Created:   t0.Add(-time.Hour),
		LastSeen:  t0.Add(-time.Minute),
		Saved:     t0.Add(-time.Minute),
		Rotated:   t0.Add(-10 * time.Minute),
		Expires:   t0.Add(29 * time.Minute),
		Version:   12,
		IP:        "192.0.2.7",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
	}
}

// kept is rec as a cookie keeps it: no server IDs, millisecond times.
func kept(rec *session.Record) *session.Record {
	k := rec.Clone()
	k.ID, k.SecureID, k.Aliases, k.Sealed = session.Hash{}, session.Hash{}, nil, nil
	for _, tp := range []*time.Time{&k.Created, &k.LastSeen, &k.Saved, &k.Rotated, &k.SecureSeen, &k.Expires} {
		if !tp.IsZero() {
			*tp = tp.Truncate(time.Millisecond)
		}
	}
	return k
}

var recordCmp = cmp.Options{cmpopts.EquateEmpty()}

func TestNewRejects(t *testing.T) {
	key := seal.GenerateKey()
	cases := []struct {
		name string
		cfg  cookie.Config
		want string
	}{
		{"no keys", cookie.Config{}, "key ring is empty"},
		{"bad key", cookie.Config{Keys: [][]byte{key[:20]}}, "key 1: 20 bytes, want 32"},
		{"negative reserve", cookie.Config{Keys: [][]byte{key}, AttributeReserve: -1}, "AttributeReserve is -1"},
		{"reserve leaves no room", cookie.Config{Keys: [][]byte{key}, AttributeReserve: 4000}, "AttributeReserve is 4000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cookie.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	clk := testkit.NewClock(t0)
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now})
	_, h := token.New()
	full := typical()
	full.ID, full.SecureID = h, h
	full.Aliases = []session.Alias{{Hash: h, Until: t0}}
	full.Sealed = []byte("dropped")
	full.SecureSeen = t0.Add(-2 * time.Minute)
	full.Generation, full.Requests = 4, -3
	full.Created = full.Created.Add(123456 * time.Nanosecond) // sub-millisecond part dropped
	cases := []struct {
		name string
		rec  *session.Record
	}{
		{"typical", typical()},
		{"every field, server IDs dropped", full},
		{"anonymous, no data, never expires", &session.Record{Ref: "r", Created: t0, Rotated: t0, Version: 1}},
		{"zero times", &session.Record{Ref: "r"}},
		{"binary data, empty key and value", &session.Record{Ref: "r", Data: map[string]string{"": "", "k": "\x00\xff\xfe", "é": "ü"}}},
		{"before 1970", &session.Record{Ref: "r", Created: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), LastSeen: t0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := c.Encode(ctx, "__Host-sid", tc.rec)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := c.Decode(ctx, "__Host-sid", "", v)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(kept(tc.rec), got, recordCmp); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
			if strings.Contains(v, pan) || strings.Contains(v, "alice") {
				t.Fatal("plaintext visible in the cookie")
			}
		})
	}
}

// The encoded form is compact: a typical five-key session is well under a
// tenth of the limit, and server-side IDs add nothing.
func TestCompact(t *testing.T) {
	ctx := context.Background()
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}})
	rec := typical()
	plain, err := c.Encode(ctx, "sid", rec)
	if err != nil {
		t.Fatal(err)
	}
	withIDs := rec.Clone()
	_, withIDs.ID = token.New()
	withIDs.Aliases = []session.Alias{{Hash: withIDs.ID, Next: make([]byte, 80)}}
	v, err := c.Encode(ctx, "sid", withIDs)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != len(plain) {
		t.Fatalf("server IDs changed the cookie size: %d vs %d bytes", len(v), len(plain))
	}
	if len(plain) > 400 {
		t.Fatalf("typical cookie is %d bytes, want at most 400", len(plain))
	}
	t.Logf("typical five-key session: %d-byte cookie value", len(plain))
}

func TestEncodeRejects(t *testing.T) {
	ctx := context.Background()
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}})
	cases := []struct {
		name, cookie string
		rec          *session.Record
		want         string
	}{
		{"empty name", "", typical(), "not a valid cookie name"},
		{"space in name", "a b", typical(), "not a valid cookie name"},
		{"semicolon in name", "a;b", typical(), "not a valid cookie name"},
		{"equals in name", "a=b", typical(), "not a valid cookie name"},
		{"non-ASCII name", "séssion", typical(), "not a valid cookie name"},
		{"nil record", "sid", nil, "nil or has no Ref"},
		{"no ref", "sid", &session.Record{}, "nil or has no Ref"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := c.Encode(ctx, tc.cookie, tc.rec)
			if err == nil || !strings.Contains(err.Error(), tc.want) || v != "" {
				t.Fatalf("Encode = %q, %v; want an error saying %q", v, err, tc.want)
			}
		})
	}
}

// A session that cannot fit is a clear ErrTooLarge naming the sizes, never
// a truncated or oversized cookie; up to the limit, it fits.
func TestTooLarge(t *testing.T) {
	ctx := context.Background()
	const name = "__Host-sid"
	for _, reserve := range []int{0, 100, 1000} {
		c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, AttributeReserve: reserve})
		eff := reserve
		if eff == 0 {
			eff = cookie.DefaultAttributeReserve
		}
		// Grow the cart one byte at a time until it no longer fits.
		rec := typical()
		last, refused := 0, false
		for n := 2000; n < 4096; n++ {
			rec.Data["cart"] = strings.Repeat("x", n)
			v, err := c.Encode(ctx, name, rec)
			if err == nil {
				if total := len(name) + 1 + len(v) + eff; total > cookie.Limit {
					t.Fatalf("reserve %d: accepted a Set-Cookie of %d bytes", reserve, total)
				}
				last = len(v)
				continue
			}
			if !errors.Is(err, session.ErrTooLarge) {
				t.Fatalf("reserve %d: error %v does not wrap session.ErrTooLarge", reserve, err)
			}
			for _, want := range []string{"4096-byte limit", "largest key is \"cart\"", name, "reserved for attributes"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("reserve %d: error %q does not say %q", reserve, err, want)
				}
			}
			// The refusal comes within one base64 quantum of the limit.
			if room := cookie.Limit - eff - len(name) - 1 - last; room > 4 || room < 0 {
				t.Errorf("reserve %d: refused with %d bytes of room left", reserve, room)
			}
			refused = true
			break
		}
		if last == 0 || !refused {
			t.Fatalf("reserve %d: fit nothing or everything (last fit %d bytes, refused %v)", reserve, last, refused)
		}
	}
}

func TestKeyHelpers(t *testing.T) {
	k1, k2 := cookie.GenerateKey(), cookie.GenerateKey()
	keys, err := cookie.ParseKeys("# current\n" + cookie.FormatKey(k2) + "\n" + cookie.FormatKey(k1) + "\n")
	if err != nil || len(keys) != 2 || string(keys[0]) != string(k2) {
		t.Fatalf("ParseKeys = %d keys, %v", len(keys), err)
	}
	if _, err := cookie.New(cookie.Config{Keys: keys}); err != nil {
		t.Fatal(err)
	}
	if _, err := cookie.ParseKeys("secret-passphrase"); !errors.Is(err, seal.ErrInvalidKey) || strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("ParseKeys of a passphrase = %v; want ErrInvalidKey without echo", err)
	}
}

// A session far past the limit is refused before anything is allocated
// for it.
func TestTooLargeRefusedEarly(t *testing.T) {
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}})
	rec := typical()
	rec.Data["upload"] = strings.Repeat("x", 1<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := c.Encode(context.Background(), "sid", rec)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, session.ErrTooLarge) || !strings.Contains(err.Error(), "at least") {
		t.Fatalf("Encode = %v, want ErrTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 { // the error message, not a 2 MB buffer
		t.Fatalf("refusal allocated %d bytes", n)
	}
}

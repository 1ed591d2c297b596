package cookie_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
)

// mustRefuse checks that Decode refuses value with exactly
// session.ErrNotFound: every refusal looks the same to the client.
func mustRefuse(t *testing.T, c *cookie.Codec, name, value string) {
	t.Helper()
	rec, err := c.Decode(context.Background(), name, "", value)
	if err != session.ErrNotFound || rec != nil {
		t.Fatalf("Decode(%q, %.40q…) = %v, %v; want exactly session.ErrNotFound", name, value, rec, err)
	}
}

func TestBitFlipAnywhere(t *testing.T) {
	clk := testkit.NewClock(t0)
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now})
	v, err := c.Encode(context.Background(), "sid", typical())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decode(context.Background(), "sid", "", v); err != nil {
		t.Fatalf("the genuine cookie does not decode: %v", err)
	}
	for i := range len(v) {
		for bit := range 8 {
			b := []byte(v)
			b[i] ^= 1 << bit
			mustRefuse(t, c, "sid", string(b))
		}
	}
}

func TestTruncationAndExtension(t *testing.T) {
	clk := testkit.NewClock(t0)
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now})
	v, err := c.Encode(context.Background(), "sid", typical())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, value string
	}{
		{"empty", ""},
		{"one character", v[:1]},
		{"header only", v[:7]},
		{"below the seal overhead", v[:59]},
		{"half", v[:len(v)/2]},
		{"one character short", v[:len(v)-1]},
		{"two characters short", v[:len(v)-2]},
		{"four characters short", v[:len(v)-4]},
		{"first character dropped", v[1:]},
		{"one character more", v + "A"},
		{"four characters more", v + "AAAA"},
		{"padding added", v + "=="},
		{"line break inside", v[:10] + "\n" + v[10:]},
		{"CR at the end", v + "\r"},
		{"space at the end", v + " "},
		{"quoted", `"` + v + `"`},
		{"doubled", v + v},
		{"standard alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(v) + "+/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { mustRefuse(t, c, "sid", tc.value) })
	}
	t.Run("every truncation", func(t *testing.T) {
		for n := range len(v) {
			mustRefuse(t, c, "sid", v[:n])
		}
	})
}

// A value issued for one cookie name does not open under another: the name
// is the associated data.
func TestCookieNameSwap(t *testing.T) {
	clk := testkit.NewClock(t0)
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now})
	ctx := context.Background()
	insecure, err := c.Encode(ctx, "sid", typical())
	if err != nil {
		t.Fatal(err)
	}
	secure, err := c.Encode(ctx, "__Host-ssid", typical())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, cookie, value string
	}{
		{"insecure value as the secure cookie", "__Host-ssid", insecure},
		{"secure value as the insecure cookie", "sid", secure},
		{"prefix dropped", "ssid", secure},
		{"case changed", "SID", insecure},
		{"invalid name", "s id", insecure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { mustRefuse(t, c, tc.cookie, tc.value) })
	}
}

func TestGarbage(t *testing.T) {
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}})
	random := make([]byte, 300)
	_, _ = rand.Read(random)
	forged := append([]byte{1, 0, 0, 0, 0}, random[:200]...) // plausible header, no key
	cases := []struct {
		name, value string
	}{
		{"word", "garbage"},
		{"16 KB", strings.Repeat("A", 16<<10)},
		{"just over 4 KB", strings.Repeat("A", 4096)},
		{"non-UTF-8", "\xff\xfe\xfd" + strings.Repeat("A", 80)},
		{"NUL", strings.Repeat("\x00", 80)},
		{"path traversal", "../../../../etc/passwd/" + strings.Repeat("A", 60)},
		{"random base64url", base64.RawURLEncoding.EncodeToString(random)},
		{"forged header", base64.RawURLEncoding.EncodeToString(forged)},
		{"a session ID", "DBvZ6t3VzXpy9a4lhhJbV6Ydh5hJcN9o2mEPDbU8Vfk"},
		{"mod_session plaintext", "user=admin&expiry=99999999999999"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { mustRefuse(t, c, "sid", tc.value) })
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	clk := testkit.NewClock(t0)
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now})
	rec := typical() // expires at t0+29m
	v, err := c.Encode(ctx, "sid", rec)
	if err != nil {
		t.Fatal(err)
	}
	forever := typical()
	forever.Expires = time.Time{}
	vf, err := c.Encode(ctx, "sid", forever)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		value string
		now   time.Time
		ok    bool
	}{
		{"now", v, t0, true},
		{"a millisecond before expiry", v, rec.Expires.Add(-time.Millisecond), true},
		{"at expiry", v, rec.Expires, false},
		{"a day later (replayed from a backup)", v, rec.Expires.Add(24 * time.Hour), false},
		{"no expiry (MaxAge 0), years later", vf, t0.Add(5 * 365 * 24 * time.Hour), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(tc.now)
			if !tc.ok {
				mustRefuse(t, c, "sid", tc.value)
				return
			}
			if _, err := c.Decode(ctx, "sid", "", tc.value); err != nil {
				t.Fatalf("Decode = %v, want the cookie accepted", err)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	clk := testkit.NewClock(t0)
	oldK, newK := seal.GenerateKey(), seal.GenerateKey()
	before := newCodec(t, cookie.Config{Keys: [][]byte{oldK}, Now: clk.Now})
	rotated := newCodec(t, cookie.Config{Keys: [][]byte{newK, oldK}, Now: clk.Now})
	retired := newCodec(t, cookie.Config{Keys: [][]byte{newK}, Now: clk.Now})
	oldCookie, err := before.Encode(ctx, "sid", typical())
	if err != nil {
		t.Fatal(err)
	}
	newCookie, err := rotated.Encode(ctx, "sid", typical())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		codec *cookie.Codec
		value string
		ok    bool
	}{
		{"old cookie opens after a new key is put first", rotated, oldCookie, true},
		{"new cookie opens with the rotated ring", rotated, newCookie, true},
		{"new cookie opens once the old key is removed", retired, newCookie, true},
		{"old cookie refused once its key is removed", retired, oldCookie, false},
		{"new cookie refused by a codec without the new key", before, newCookie, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				mustRefuse(t, tc.codec, "sid", tc.value)
				return
			}
			if rec, err := tc.codec.Decode(ctx, "sid", "", tc.value); err != nil || rec.Data["cart"] != "1,2,3" {
				t.Fatalf("Decode = %v, %v", rec, err)
			}
		})
	}
}

// A blob sealed with the same operator key for another purpose (the
// at-rest store) does not open as a cookie.
func TestOtherPurposeRefused(t *testing.T) {
	key := seal.GenerateKey()
	c := newCodec(t, cookie.Config{Keys: [][]byte{key}})
	other, err := seal.New(seal.Config{Purpose: "sessiond at-rest record data v1", Keys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	blob := other.Seal(nil, []byte("\x01anything at all"), []byte("sid"))
	mustRefuse(t, c, "sid", base64.RawURLEncoding.EncodeToString(blob))
}

// A refused cookie is logged (at debug level) with the reason, never with
// the value or the key.
func TestRefusalLogNamesReasonOnly(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	key := seal.GenerateKey()
	clk := testkit.NewClock(t0)
	c := newCodec(t, cookie.Config{Keys: [][]byte{key}, Now: clk.Now, Logger: log})
	v, err := c.Encode(context.Background(), "sid", typical())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, value, reason string
	}{
		{"tampered", v[:40] + flip(v[40]) + v[41:], "does not open"},
		{"garbage", "!!!" + v, "not base64url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			mustRefuse(t, c, "sid", tc.value)
			out := buf.String()
			if !strings.Contains(out, tc.reason) {
				t.Fatalf("log %q does not give the reason %q", out, tc.reason)
			}
			if strings.Contains(out, tc.value[10:30]) || strings.Contains(out, cookie.FormatKey(key)[:10]) {
				t.Fatalf("log contains the cookie value or the key: %q", out)
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

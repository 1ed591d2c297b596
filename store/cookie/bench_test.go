package cookie_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
)

func errorsIsTooLarge(err error) bool { return errors.Is(err, session.ErrTooLarge) }

// BenchmarkEncode seals a typical five-key, logged-in session.
func BenchmarkEncode(b *testing.B) {
	c := newCodec(b, cookie.Config{Keys: [][]byte{seal.GenerateKey()}})
	ctx, rec := context.Background(), typical()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode(ctx, "__Host-sid", rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode opens it: the cost on every request of a cookie session.
func BenchmarkDecode(b *testing.B) {
	clk := testkit.NewClock(t0)
	for _, bc := range []struct {
		name string
		rev  cookie.Revocations
	}{
		{"NoRevocations", nil},
		{"MemoryRevocations", cookie.NewMemoryRevocations()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := newCodec(b, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now, Revocations: bc.rev})
			ctx := context.Background()
			v, err := c.Encode(ctx, "__Host-sid", typical())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				if _, err := c.Decode(ctx, "__Host-sid", "", v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeTampered is the cost of refusing a forged cookie.
func BenchmarkDecodeTampered(b *testing.B) {
	clk := testkit.NewClock(t0)
	c := newCodec(b, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now})
	ctx := context.Background()
	v, err := c.Encode(ctx, "__Host-sid", typical())
	if err != nil {
		b.Fatal(err)
	}
	bad := []byte(v)
	bad[len(bad)/2] ^= 1
	tampered := string(bad)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(ctx, "__Host-sid", "", tampered); err != session.ErrNotFound {
			b.Fatal(err)
		}
	}
}

package cookie_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
)

// fuzzKey is fixed so that seeds encoded by the coordinating process decode
// in every fuzz worker.
var fuzzKey = []byte("0123456789abcdef0123456789abcdef")

func fuzzCodec(f *testing.F) *cookie.Codec {
	c, err := cookie.New(cookie.Config{Keys: [][]byte{fuzzKey}, Now: func() time.Time { return t0 }})
	if err != nil {
		f.Fatal(err)
	}
	return c
}

// FuzzDecode: no value panics Decode; every refusal is exactly
// session.ErrNotFound; anything accepted encodes again and decodes to the
// same record.
func FuzzDecode(f *testing.F) {
	c := fuzzCodec(f)
	ctx := context.Background()
	for _, rec := range []*session.Record{typical(), {Ref: "r"}, {Ref: "r", Data: map[string]string{"": "\x00"}}} {
		v, err := c.Encode(ctx, "sid", rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("sid", v)
		f.Add("__Host-sid", v)
	}
	f.Add("sid", "")
	f.Add("sid", "garbage")
	f.Add("", "AQAAAAA")
	f.Fuzz(func(t *testing.T, name, value string) {
		rec, err := c.Decode(ctx, name, "", value)
		if err != nil {
			if err != session.ErrNotFound || rec != nil {
				t.Fatalf("refusal is %v, %v; want exactly session.ErrNotFound", rec, err)
			}
			return
		}
		again, err := c.Encode(ctx, name, rec)
		if err != nil {
			t.Fatalf("an accepted record does not encode again: %v", err)
		}
		back, err := c.Decode(ctx, name, "", again)
		if err != nil {
			t.Fatalf("re-encoded cookie refused: %v", err)
		}
		if diff := cmp.Diff(rec, back, recordCmp); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzEncode: any record content either encodes and decodes to itself (as
// a cookie keeps it) or is refused as too large — never a panic.
func FuzzEncode(f *testing.F) {
	c := fuzzCodec(f)
	ctx := context.Background()
	f.Add("ref", "alice", "cart", "1,2,3", int64(0), int64(60_000), uint64(3), 2, "192.0.2.1", "UA")
	f.Add("", "", "", "", int64(-1), int64(0), uint64(0), -1, "", "")
	f.Fuzz(func(t *testing.T, ref, user, k, v string, created, expiresIn int64, version uint64, gen int, ip, ua string) {
		rec := &session.Record{
			Ref: ref, User: user, Data: map[string]string{k: v},
			Created: t0.Add(time.Duration(created) * time.Millisecond), Version: version, Generation: gen, IP: ip, UserAgent: ua,
		}
		rec.Expires = rec.Created.Add(time.Duration(expiresIn) * time.Millisecond)
		val, err := c.Encode(ctx, "sid", rec)
		if err != nil {
			if ref == "" || errorsIsTooLarge(err) {
				return
			}
			t.Fatalf("Encode: %v", err)
		}
		got, err := c.Decode(ctx, "sid", "", val)
		if rec.ExpiredAt(t0) {
			if err != session.ErrNotFound {
				t.Fatalf("expired record decoded: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Decode of a fresh cookie: %v", err)
		}
		if diff := cmp.Diff(kept(rec), got, recordCmp); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}

package seal

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWireRoundTrip(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		vals map[string]string
		str  string
		t    time.Time
		n    int64
	}{
		{"empty", nil, "", time.Time{}, 0},
		{"empty key and value", map[string]string{"": "", "k": ""}, "x", base, -1},
		{"binary", map[string]string{"nul": "a\x00b", "\xff": "\xfe"}, "\x00\xff", base.Add(-time.Hour), 1 << 40},
		{"big", map[string]string{"k": string(make([]byte, 300))}, "Zoë", base.Add(24 * 365 * time.Hour), -1 << 62},
		{"pre-epoch", map[string]string{"a": "1"}, "", time.Date(1, 1, 1, 0, 0, 0, 1e6, time.UTC), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := AppendValues(nil, tc.vals)
			if len(b) != ValuesLen(tc.vals) {
				t.Fatalf("ValuesLen = %d, AppendValues wrote %d", ValuesLen(tc.vals), len(b))
			}
			b = AppendString(b, tc.str)
			b = AppendBytes(b, []byte(tc.str))
			b = AppendTime(b, tc.t, base.UnixMilli())
			b = append(b, zigzagBytes(tc.n)...)
			r := NewReader(string(b))
			vals, str, bs, tm, n := r.Values(), r.Str(), r.Str(), r.Time(base.UnixMilli()), r.Varint()
			if r.Err() != nil || r.Len() != 0 {
				t.Fatalf("read back: err %v, %d bytes left", r.Err(), r.Len())
			}
			if diff := cmp.Diff(tc.vals, vals); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if str != tc.str || bs != tc.str || n != tc.n || !tm.Equal(tc.t) {
				t.Errorf("got %q %q %v %d; want %q %v %d", str, bs, tm, n, tc.str, tc.t, tc.n)
			}
		})
	}
}

func zigzagBytes(v int64) []byte {
	var b []byte
	for u := zigzag(v); ; u >>= 7 {
		if u < 0x80 {
			return append(b, byte(u))
		}
		b = append(b, byte(u)|0x80)
	}
}

func TestReaderRejects(t *testing.T) {
	cases := []struct {
		name string
		in   string
		read func(r *Reader)
	}{
		{"empty byte", "", func(r *Reader) { r.Byte() }},
		{"truncated varint", "\x80", func(r *Reader) { r.Uvarint() }},
		{"non-minimal varint", "\x81\x00", func(r *Reader) { r.Uvarint() }},
		{"varint over 64 bits", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", func(r *Reader) { r.Uvarint() }},
		{"varint of 11 bytes", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00", func(r *Reader) { r.Uvarint() }},
		{"string longer than input", "\x05abc", func(r *Reader) { r.Str() }},
		{"huge string length", "\xff\xff\xff\xff\xff\xff\xff\xff\x7f", func(r *Reader) { r.Str() }},
		{"map count beyond input", "\x03\x00\x00", func(r *Reader) { r.Values() }},
		{"huge map count", "\xff\xff\xff\xff\x0f", func(r *Reader) { r.Values() }},
		{"truncated pair", "\x01\x01k", func(r *Reader) { r.Values() }},
		{"duplicate key", "\x02\x01k\x01a\x01k\x01b", func(r *Reader) { r.Values() }},
		{"int overflow", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", func(r *Reader) { r.Int(); r.Byte() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.in)
			tc.read(r)
			if !errors.Is(r.Err(), ErrMalformed) {
				t.Fatalf("Err() = %v, want ErrMalformed", r.Err())
			}
			// The error sticks: later reads return zero values.
			if s := r.Str(); s != "" || r.Len() != 0 {
				t.Fatalf("read after error returned %q, %d bytes left", s, r.Len())
			}
		})
	}
}

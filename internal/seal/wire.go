package seal

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// A small binary form for what goes inside a sealed blob: length-prefixed
// strings and maps, varints and times. It is exact (unlike the urlencoded
// wire form, which cannot carry an empty key or an empty value) and cheap
// to read: Reader slices every string out of one string, so decoding a
// whole record costs one allocation for the text plus the map.
//
// The decoder is defensive although what it reads was authenticated: every
// length is checked against what is left, so no input makes it panic or
// allocate more than the input's size.

// ErrMalformed: the bytes are not in this form.
var ErrMalformed = errors.New("seal: malformed payload")

// AppendString appends s with its length.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendBytes appends p with its length.
func AppendBytes(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// AppendValues appends a map: its size, then each key and value (in map
// order: the form need not be canonical to decode to the same map).
func AppendValues(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, v := range m {
		b = AppendString(b, k)
		b = AppendString(b, v)
	}
	return b
}

// ValuesLen is the length AppendValues adds for m.
func ValuesLen(m map[string]string) int {
	n := uvarintLen(uint64(len(m)))
	for k, v := range m {
		n += StringLen(k) + StringLen(v)
	}
	return n
}

// StringLen is the length AppendString adds for s.
func StringLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// AppendTime appends t as milliseconds since base (sub-millisecond precision
// is dropped). The zero time has its own one-byte form.
func AppendTime(b []byte, t time.Time, base int64) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	d := t.UnixMilli() - base // wraps on overflow; Reader.Time wraps back
	return binary.AppendUvarint(b, zigzag(d)+1)
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// Reader reads the form from a string. The first error sticks: after it,
// every read returns a zero value, and Err reports it.
type Reader struct {
	s   string
	err error
}

// NewReader reads s. Strings it returns are substrings of s.
func NewReader(s string) *Reader { return &Reader{s: s} }

// Err is the first error met, wrapping ErrMalformed, or nil.
func (r *Reader) Err() error { return r.err }

// Len is the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.s) }

func (r *Reader) fail() {
	if r.err == nil {
		r.err = ErrMalformed
	}
	r.s = ""
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil || len(r.s) == 0 {
		r.fail()
		return 0
	}
	c := r.s[0]
	r.s = r.s[1:]
	return c
}

// Uvarint reads an unsigned varint in its shortest form.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var x uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if i >= len(r.s) {
			break
		}
		c := r.s[i]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			break // overflows 64 bits
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if c == 0 && i > 0 {
				break // not the shortest form: one value, one spelling
			}
			r.s = r.s[i+1:]
			return x
		}
	}
	r.fail()
	return 0
}

// Varint reads a zigzag-encoded signed varint.
func (r *Reader) Varint() int64 { return unzigzag(r.Uvarint()) }

// Int reads a Varint that must fit an int.
func (r *Reader) Int() int {
	v := r.Varint()
	if v < math.MinInt || v > math.MaxInt {
		r.fail()
		return 0
	}
	return int(v)
}

// Str reads a length-prefixed string.
func (r *Reader) Str() string {
	n := r.Uvarint()
	if r.err != nil || n > uint64(len(r.s)) {
		r.fail()
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

// Values reads a map written by AppendValues. A key that appears twice is
// malformed.
func (r *Reader) Values() map[string]string {
	n := r.Uvarint()
	// Each pair takes at least two bytes: a count beyond that is a lie.
	if r.err != nil || n > uint64(len(r.s))/2 {
		r.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := r.Str()
		v := r.Str()
		if r.err != nil {
			return nil
		}
		if _, dup := m[k]; dup {
			r.fail()
			return nil
		}
		m[k] = v
	}
	return m
}

// Time reads a time written by AppendTime with the same base.
func (r *Reader) Time(base int64) time.Time {
	u := r.Uvarint()
	if r.err != nil || u == 0 {
		return time.Time{}
	}
	return time.UnixMilli(base + unzigzag(u-1))
}

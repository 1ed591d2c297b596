package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The storage form of a Record: a version byte, then every field in a
// fixed order, strings and byte slices length-prefixed (uvarint), times
// as varint Unix nanoseconds (0 for the zero time), hashes as 32 raw
// bytes. It is several times faster to decode than JSON, which matters
// because a server store decodes a record on every request.

// Format 1 has no realm; format 2 adds Realm right after Ref. A record of
// the empty realm is still written as format 1, so that it reads the same
// in versions that predate realms.
const (
	recordFormat      = 1
	recordFormatRealm = 2
)

// maxRecordField bounds any one length prefix, so a corrupt row cannot
// make the decoder allocate gigabytes.
const maxRecordField = 16 << 20

var errRecord = errors.New("session: malformed stored record")

// MarshalRecord is the record's storage form. Stores may use any form
// that round-trips every field; this one is shared so they need not.
func MarshalRecord(r *Record) ([]byte, error) {
	n := 64 + len(r.Ref) + len(r.Realm) + len(r.User) + len(r.IP) + len(r.UserAgent) + len(r.Sealed) + 64*len(r.Aliases)
	for k, v := range r.Data {
		n += len(k) + len(v) + 4
	}
	b := make([]byte, 0, n)
	if r.Realm == "" {
		b = append(b, recordFormat)
		b = appendString(b, r.Ref)
	} else {
		b = append(b, recordFormatRealm)
		b = appendString(b, r.Ref)
		b = appendString(b, r.Realm)
	}
	b = append(b, r.ID[:]...)
	if r.SecureID.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = append(b, r.SecureID[:]...)
	}
	var bad error
	b = binary.AppendUvarint(b, uint64(len(r.Aliases)))
	for _, a := range r.Aliases {
		b = append(b, a.Hash[:]...)
		b = appendBool(b, a.Secure)
		b = appendTime(b, a.Until, "alias until", &bad)
		b = appendString(b, string(a.Next))
		b = binary.AppendVarint(b, int64(a.Generation))
	}
	b = binary.AppendUvarint(b, uint64(len(r.Data)))
	for k, v := range r.Data {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	b = appendString(b, string(r.Sealed))
	b = appendString(b, r.User)
	for i, t := range []time.Time{r.Created, r.LastSeen, r.Saved, r.Rotated, r.SecureSeen, r.Expires} {
		b = appendTime(b, t, recordTimes[i], &bad)
	}
	b = binary.AppendUvarint(b, r.Version)
	b = binary.AppendVarint(b, int64(r.Generation))
	b = binary.AppendVarint(b, int64(r.Requests))
	b = appendString(b, r.IP)
	b = appendString(b, r.UserAgent)
	if bad != nil {
		return nil, bad
	}
	return b, nil
}

// recordTimes names the record's times in their storage order.
var recordTimes = [...]string{"created", "last seen", "saved", "rotated", "secure seen", "expires"}

// ErrRecordTime is returned by MarshalRecord for a time that Unix
// nanoseconds cannot hold (before 1678 or after 2262): stored, it would
// silently wrap to another date.
var ErrRecordTime = errors.New("session: time outside the storable range (years 1678 to 2262)")

var (
	minRecordTime = time.Unix(0, math.MinInt64)
	maxRecordTime = time.Unix(0, math.MaxInt64)
)

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendTime(b []byte, t time.Time, what string, bad *error) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	if (t.Before(minRecordTime) || t.After(maxRecordTime)) && *bad == nil {
		*bad = fmt.Errorf("%w: %s %s", ErrRecordTime, what, t.UTC().Format(time.RFC3339))
	}
	return binary.AppendVarint(b, t.UnixNano())
}

// recordReader decodes with bounds checks; the first error sticks.
type recordReader struct {
	b   []byte
	err error
}

func (d *recordReader) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errRecord, what)
	}
}

func (d *recordReader) uvarint(what string) uint64 { return readVarint(d, what, binary.Uvarint) }
func (d *recordReader) varint(what string) int64   { return readVarint(d, what, binary.Varint) }

// readVarint reads one varint with read (binary.Uvarint or Varint).
func readVarint[T uint64 | int64](d *recordReader, what string, read func([]byte) (T, int)) T {
	if d.err != nil {
		return 0
	}
	v, n := read(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordReader) int(what string) int {
	v := d.varint(what)
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail(what)
		return 0
	}
	return int(v)
}

func (d *recordReader) bytes(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail(what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *recordReader) string(what string) string {
	n := d.uvarint(what)
	if n > maxRecordField {
		d.fail(what)
		return ""
	}
	return string(d.bytes(int(n), what))
}

func (d *recordReader) hash(what string) (h Hash) {
	copy(h[:], d.bytes(len(h), what))
	return h
}

func (d *recordReader) bool(what string) bool {
	b := d.bytes(1, what)
	return len(b) == 1 && b[0] == 1
}

func (d *recordReader) time(what string) time.Time {
	v := d.varint(what)
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

func (d *recordReader) count(what string, min int) int {
	n := d.uvarint(what)
	if n > uint64(len(d.b)/min) {
		d.fail(what) // more entries than bytes left to hold them
		return 0
	}
	return int(n)
}

// UnmarshalRecord reads MarshalRecord's output. Anything else — other
// versions, truncation, trailing bytes, absurd lengths — is an error
// wrapping a clear description, never a panic.
func UnmarshalRecord(b []byte) (*Record, error) {
	if len(b) == 0 || (b[0] != recordFormat && b[0] != recordFormatRealm) {
		return nil, fmt.Errorf("%w: unknown format", errRecord)
	}
	d := &recordReader{b: b[1:]}
	r := &Record{}
	r.Ref = d.string("ref")
	if b[0] == recordFormatRealm {
		if r.Realm = d.string("realm"); r.Realm == "" && d.err == nil {
			d.fail("empty realm in a format 2 record")
		}
	}
	r.ID = d.hash("id")
	if d.bool("secure id flag") {
		r.SecureID = d.hash("secure id")
	}
	if n := d.count("aliases", 36); n > 0 {
		r.Aliases = make([]Alias, n)
		for i := range r.Aliases {
			a := &r.Aliases[i]
			a.Hash = d.hash("alias")
			a.Secure = d.bool("alias secure")
			a.Until = d.time("alias until")
			if next := d.string("alias next"); next != "" {
				a.Next = []byte(next)
			}
			a.Generation = d.int("alias generation")
		}
	}
	if n := d.count("data", 2); n > 0 {
		r.Data = make(map[string]string, n)
		for range n {
			k := d.string("data key")
			r.Data[k] = d.string("data value")
		}
	}
	if s := d.string("sealed"); s != "" {
		r.Sealed = []byte(s)
	}
	r.User = d.string("user")
	for _, t := range []*time.Time{&r.Created, &r.LastSeen, &r.Saved, &r.Rotated, &r.SecureSeen, &r.Expires} {
		*t = d.time("time")
	}
	r.Version = d.uvarint("version")
	r.Generation = d.int("generation")
	r.Requests = d.int("requests")
	r.IP = d.string("ip")
	r.UserAgent = d.string("user agent")
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

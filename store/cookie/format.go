package cookie

import (
	"encoding/binary"

	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/session"
)

// The plaintext inside a cookie, format 1, in this order:
//
//	format byte (1)
//	Created                       time, absolute (ms since the Unix epoch)
//	Expires, LastSeen, Saved,
//	Rotated, SecureSeen           times, as ms relative to Created
//	Ref, User                     strings
//	Version                       uvarint
//	Generation, Requests          signed varints
//	IP, UserAgent                 strings
//	Data                          count, then key and value strings
//
// Strings carry their length, so any byte may appear in them; times keep
// millisecond precision. The ID hashes, aliases and Sealed are not kept: a
// cookie session has no server-side IDs. A typical session of five short
// keys is about 150 bytes of plaintext, 45 more sealed, and a third more
// again in base64.
const formatVersion byte = 1

// maxVarint is the most bytes one varint or time takes.
const maxVarint = binary.MaxVarintLen64

// plaintextBound is an upper bound of the plaintext length of rec.
func plaintextBound(rec *session.Record) int {
	return 1 + 6*maxVarint +
		seal.StringLen(rec.Ref) + seal.StringLen(rec.User) +
		3*maxVarint +
		seal.StringLen(rec.IP) + seal.StringLen(rec.UserAgent) +
		seal.ValuesLen(rec.Data)
}

// appendRecord appends the plaintext form of rec to b.
func appendRecord(b []byte, rec *session.Record) []byte {
	b = append(b, formatVersion)
	b = seal.AppendTime(b, rec.Created, 0)
	base := baseOf(rec)
	b = seal.AppendTime(b, rec.Expires, base)
	b = seal.AppendTime(b, rec.LastSeen, base)
	b = seal.AppendTime(b, rec.Saved, base)
	b = seal.AppendTime(b, rec.Rotated, base)
	b = seal.AppendTime(b, rec.SecureSeen, base)
	b = seal.AppendString(b, rec.Ref)
	b = seal.AppendString(b, rec.User)
	b = binary.AppendUvarint(b, rec.Version)
	b = binary.AppendVarint(b, int64(rec.Generation))
	b = binary.AppendVarint(b, int64(rec.Requests))
	b = seal.AppendString(b, rec.IP)
	b = seal.AppendString(b, rec.UserAgent)
	return seal.AppendValues(b, rec.Data)
}

// baseOf is the reference point of the relative times: Created in ms, or 0
// if Created is zero.
func baseOf(rec *session.Record) int64 {
	if rec.Created.IsZero() {
		return 0
	}
	return rec.Created.UnixMilli()
}

// parseRecord reads appendRecord's output. ok is false for anything else,
// including trailing bytes. Strings in the record are substrings of s.
func parseRecord(s string) (*session.Record, bool) {
	r := seal.NewReader(s)
	if r.Byte() != formatVersion {
		return nil, false
	}
	rec := new(session.Record)
	rec.Created = r.Time(0)
	base := baseOf(rec)
	rec.Expires = r.Time(base)
	rec.LastSeen = r.Time(base)
	rec.Saved = r.Time(base)
	rec.Rotated = r.Time(base)
	rec.SecureSeen = r.Time(base)
	rec.Ref = r.Str()
	rec.User = r.Str()
	rec.Version = r.Uvarint()
	rec.Generation = r.Int()
	rec.Requests = r.Int()
	rec.IP = r.Str()
	rec.UserAgent = r.Str()
	rec.Data = r.Values()
	if r.Err() != nil || r.Len() != 0 {
		return nil, false
	}
	return rec, true
}

// Package sqlstore holds what the SQL session stores (store/sqlite and
// store/postgres) share: the checks a record passes before it reaches SQL,
// the index columns stored next to session.MarshalRecord's blob, the ID-index
// diff an Update applies, and the batched GC loop. Everything here is pure
// (no I/O of its own) and safe for concurrent use.
package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessiond/sessiond/session"
)

// Limits on the text columns. They keep index entries small (PostgreSQL
// refuses B-tree entries past about 2.7 KB) and turn hostile values into a
// clear error instead of a driver failure. Real refs are 22 characters.
const (
	MaxRefLen  = 256
	MaxUserLen = 1024
)

// DefaultGCBatch is the number of records a GC batch deletes when the
// store's Config leaves it zero: small enough that one batch is a short
// transaction, large enough that a million rows take a thousand batches.
const DefaultGCBatch = 1000

// ErrBadRecord is wrapped by every error about a record or argument that
// cannot be stored (nil, missing ref, bad version, unstorable text). It is a
// caller bug, not a store failure, so it wraps no session sentinel.
var ErrBadRecord = errors.New("invalid session record")

func checkText(what, s string, max int) error {
	switch {
	case len(s) > max:
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrBadRecord, what, len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrBadRecord, what)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%w: %s contains a NUL byte", ErrBadRecord, what)
	}
	return nil
}

// CheckRecord reports why rec cannot be stored, or nil.
func CheckRecord(rec *session.Record) error {
	if rec == nil {
		return fmt.Errorf("%w: nil record", ErrBadRecord)
	}
	if rec.Ref == "" {
		return fmt.Errorf("%w: empty ref", ErrBadRecord)
	}
	if err := checkText("ref", rec.Ref, MaxRefLen); err != nil {
		return err
	}
	return checkText("user", rec.User, MaxUserLen)
}

// CheckUpdate is CheckRecord plus the Update contract: rec.Version is prev+1.
func CheckUpdate(rec *session.Record, prev uint64) error {
	if err := CheckRecord(rec); err != nil {
		return err
	}
	if rec.Version != prev+1 {
		return fmt.Errorf("%w: version %d does not follow %d", ErrBadRecord, rec.Version, prev)
	}
	return nil
}

// Storable reports whether s could be stored as a ref or user. Lookups of
// values that could not have been stored answer "nothing" without a query.
func Storable(s string, max int) bool { return checkText("", s, max) == nil }

// Row is what a SQL store writes for one record: the index columns and the
// blob. Nullable columns are pointers (nil is SQL NULL), which both
// database/sql and pgx bind directly.
type Row struct {
	Ref     string
	User    *string // nil for an anonymous record
	Expires *int64  // unix microseconds, rounded up; nil for "never"
	Version int64
	Blob    []byte
	Hashes  [][]byte // distinct, non-zero ID hashes; never nil (SQL arrays: empty, not NULL)
}

// NewRow checks rec and builds its row.
func NewRow(rec *session.Record) (Row, error) {
	if err := CheckRecord(rec); err != nil {
		return Row{}, err
	}
	if rec.Version > 1<<63-1 {
		return Row{}, fmt.Errorf("%w: version %d overflows int64", ErrBadRecord, rec.Version)
	}
	blob, err := session.MarshalRecord(rec)
	if err != nil {
		return Row{}, fmt.Errorf("%w: marshal: %w", ErrBadRecord, err)
	}
	r := Row{Ref: rec.Ref, Version: int64(rec.Version), Blob: blob, Hashes: Hashes(rec)}
	if rec.User != "" {
		u := rec.User
		r.User = &u
	}
	if us, ok := ExpiresMicros(rec.Expires); ok {
		r.Expires = &us
	}
	return r, nil
}

// Hashes returns rec.Hashes() as byte slices, without zero hashes (a zero
// hash names no ID) and without duplicates (a record listing one hash twice
// must not collide with itself).
func Hashes(rec *session.Record) [][]byte {
	hs := rec.Hashes()
	out := make([][]byte, 0, len(hs))
	for i, h := range hs {
		if h.IsZero() || slices.Contains(hs[:i], h) {
			continue
		}
		out = append(out, bytes.Clone(h[:]))
	}
	return out
}

// KeepsIDs reports whether c's Next has its Base's ID hashes (Hashes):
// then a merge on the stored base leaves the ID rows as they are.
func KeepsIDs(c *session.Change) bool {
	return slices.EqualFunc(Hashes(c.Base), Hashes(c.Next), bytes.Equal)
}

// ExpiresMicros is the stored form of an expiry: unix microseconds rounded
// up, so that a record is never collected before its exact Expires (GC
// compares with NowMicros, rounded down). ok is false for the zero time,
// which means "never".
func ExpiresMicros(t time.Time) (us int64, ok bool) {
	if t.IsZero() {
		return 0, false
	}
	us = t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us, true
}

// NowMicros is the GC cut-off for now: records with a stored expiry at or
// before it have expired (session.Record.ExpiredAt).
func NowMicros(now time.Time) int64 { return now.UnixMicro() }

// Decode reads a stored blob.
func Decode(blob []byte) (*session.Record, error) {
	r, err := session.UnmarshalRecord(blob)
	if err != nil {
		return nil, fmt.Errorf("corrupt record blob: %w", err)
	}
	return r, nil
}

// Diff compares the hashes a record had with the ones it has now:
// removed are in old only, added in new only.
func Diff(old, new [][]byte) (removed, added [][]byte) {
	has := func(set [][]byte, h []byte) bool {
		return slices.ContainsFunc(set, func(x []byte) bool { return bytes.Equal(x, h) })
	}
	for _, h := range old {
		if !has(new, h) {
			removed = append(removed, h)
		}
	}
	for _, h := range new {
		if !has(old, h) {
			added = append(added, h)
		}
	}
	return removed, added
}

// GCPlan shapes a garbage collection: how many rows a batch may delete
// and how long it should take.
type GCPlan struct {
	// Max is the largest batch (the store's Config.GCBatch).
	Max int
	// Target, if positive, is how long one batch should hold the store:
	// batches start at GCMinBatch rows and grow or shrink (at most doubling
	// or halving each time, never above Max) until they take about that
	// long.
	Target time.Duration
	// Pause, if positive, makes GC pause after each batch Pause times as
	// long as the batch held the store (at least 1: a pause at least as
	// long as the batch), so that it holds the store at most 1/(1+Pause)
	// of the time.
	Pause float64
}

// GCMinBatch is the first batch of an adaptive plan (GCPlan.Target), and
// the size at or below which a store never abandons a batch for a waiting
// writer (Batch.Yielded): small enough to be brief, and GC still
// progresses under a steady write load.
const GCMinBatch = 16

// Batch is what one GC batch did.
type Batch struct {
	// Deleted is the number of rows the batch deleted.
	Deleted int
	// Tried, if more than Deleted, is the number of rows the batch meant
	// to delete: a store that picks the rows before it deletes them may
	// find some locked or no longer expired. GC ends after a batch that
	// tried fewer rows than its limit.
	Tried int
	// Held is how long the batch held the store (the writer); zero: the
	// whole call, including any wait for the store.
	Held time.Duration
	// Yielded says the batch was abandoned, rolled back, for a writer that
	// waited for the store: it deleted nothing, and the next is smaller.
	Yielded bool
}

// GC calls deleteBatch(ctx, limit) until it deletes (or tries, see
// Batch.Tried) fewer than limit rows, an error occurs or ctx ends, and returns the total deleted. Each call is
// meant to be one short transaction, so requests interleave with a long
// collection. A batch that yielded to a writer is tried again at half the
// size (not below one row) after a pause as long as it held the store.
func GC(ctx context.Context, plan GCPlan, deleteBatch func(ctx context.Context, limit int) (Batch, error)) (int, error) {
	total, size := 0, max(plan.Max, 1)
	if plan.Target > 0 {
		size = min(size, GCMinBatch)
	}
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("gc stopped after %d records: %w", total, err)
		}
		start := time.Now()
		b, err := deleteBatch(ctx, size)
		took := b.Held
		if took <= 0 {
			took = time.Since(start)
		}
		total += b.Deleted
		switch {
		case err != nil:
			return total, err
		case b.Yielded:
			size = max(size/2, 1)
		case max(b.Deleted, b.Tried) < size:
			return total, nil
		case plan.Target > 0:
			want := int(float64(size) * float64(plan.Target) / float64(max(took, time.Microsecond)))
			size = min(max(want, size/2, 1), size*2, max(plan.Max, 1))
		default:
			size = min(size*2, max(plan.Max, 1)) // back towards Max after a yield
		}
		if pause := max(plan.Pause, 0); pause > 0 || b.Yielded {
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(float64(took) * max(pause, 1))):
			}
		}
	}
}

// Rows is what DecodeAll reads: *sql.Rows and pgx.Rows both have it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// errCorrupt marks a blob that did not decode, as opposed to a driver error.
var errCorrupt = errors.New("corrupt record")

// DecodeAll decodes every blob of a one-column result. A driver error
// comes back as it is (the store maps it to ErrUnavailable or not);
// a blob that does not decode is reported by IsCorrupt.
func DecodeAll(rows Rows) ([]*session.Record, error) {
	var out []*session.Record
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return nil, err
		}
		rec, err := Decode(blob)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errCorrupt, err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// IsCorrupt reports whether a DecodeAll error is a record that did not
// decode (not a driver failure).
func IsCorrupt(err error) bool { return errors.Is(err, errCorrupt) }

// Package sealed encrypts session data at rest: it wraps any
// session.Store so that the store — and a dump of its database — never
// holds a session's data in plaintext. A cart or a card number in a session
// stays unreadable in a stolen backup.
//
// Before a record reaches the inner store, its Data is encoded and sealed
// with XChaCha20-Poly1305 (internal/seal) into Record.Sealed, and Data is
// set to nil. Load and ListUser open it again into a copy. The fields a
// store indexes (Ref, the ID hashes, User, Expires, Version) and the
// timestamps and client info stay in plaintext, as the store needs them.
//
// A sealed store does not implement session.Merger, whatever the inner
// store: the inner store sees one opaque blob, so it cannot merge keys, and
// the blob is bound to the record's identity. Concurrent writes of one
// session go through the Manager's compare-and-swap with backoff and
// jitter instead (bounded by the request's context; storetest's 1,000
// concurrent writers all succeed), which costs more under contention than
// a merge.
//
// The sealed blob is bound, as associated data, to the record's Ref, User,
// ID and SecureID. So a database writer who copies a blob into another row,
// changes a row's user, or points a row at an ID hash of their choosing
// gets a row that does not open — it is never served as a session.
//
// # When a record does not open
//
// Two cases are told apart, because they call for opposite reactions:
//
//   - The blob is damaged or does not belong to its row (tampering,
//     corruption, a blob moved between rows): Load returns an error wrapping
//     both session.ErrNotFound and seal.ErrOpen, and logs an error naming the
//     record's Ref. The Manager then treats the ID as unknown and starts a
//     fresh session; the row never opens.
//   - The blob names a key that is not in the ring: this is almost always a
//     misconfigured node (a farm member that lacks the current key) or a key
//     retired while records sealed with it were still alive. Load returns an
//     error wrapping session.ErrUnavailable and seal.ErrUnknownKey, and logs
//     an error: requests get a 503 instead of silently logging users out and
//     losing their data, and everything works again once the ring is fixed.
//     After retiring a key on purpose, set Config.UnknownKeyNotFound so that
//     leftovers sealed with it load as not found instead.
//
// ListUser never fails on such a record: it returns it unopened (Data nil,
// Sealed still set) so that listing and revoking every session of a user —
// the response to a theft signal — reaches every record.
//
// The value returned by New is safe for concurrent use if the inner store
// is (every session.Store must be).
package sealed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/session"
)

// Purpose is the label the ring's keys are derived under: a blob sealed by
// this package never opens as a cookie of store/cookie, even with the same
// operator key.
const Purpose = "sessiond at-rest record data v1"

// payloadVersion is the first byte of the plaintext inside a blob.
const payloadVersion byte = 1

// errNotSealed: a record in the inner store carries no sealed data.
var errNotSealed = errors.New("sealed: record holds no sealed data (written without encryption, or stripped)")

// Config configures the wrapper.
type Config struct {
	// Inner is the store that keeps the sealed records. Required.
	Inner session.Store
	// Keys are 32-byte keys, current key first: the first seals, all open
	// (rotation without logging anyone out). ParseKeys and ReadKeyFile
	// read them from text. Required.
	Keys [][]byte
	// UnknownKeyNotFound makes a record sealed with a key that is not in
	// the ring load as not found instead of failing with ErrUnavailable.
	// Set it after retiring a key on purpose; leave it off otherwise, so a
	// misconfigured ring shows as errors instead of mass logouts.
	UnknownKeyNotFound bool
	// AllowPlaintext lets records without sealed data load as they are (a
	// migration aid when turning encryption on over an existing store: each
	// record is sealed at its next write). Off, such a record is not found:
	// a database writer cannot plant a readable plaintext session.
	AllowPlaintext bool
	// Logger receives errors about records that do not open (with their
	// Ref, never an ID, hash or key). Nil means slog.Default().
	Logger *slog.Logger
}

// Store is the wrapper. Use the session.Store that New returns: it also
// implements session.Locker when the inner store does.
type Store struct {
	inner  session.Store
	ring   *seal.Ring
	cfg    Config
	logger *slog.Logger
}

// lockingStore is a Store over an inner store that can lock.
type lockingStore struct {
	*Store
	locker session.Locker
}

// Lock implements session.Locker by forwarding to the inner store.
func (s *lockingStore) Lock(ctx context.Context, ref string) (func(), error) {
	return s.locker.Lock(ctx, ref)
}

// New validates cfg and returns the wrapping store. The result implements
// session.Locker exactly when cfg.Inner does, so the Manager's choice of
// cross-process locking is unchanged by the wrapper.
func New(cfg Config) (session.Store, error) {
	if cfg.Inner == nil {
		return nil, errors.New("sealed: Config.Inner is nil")
	}
	ring, err := seal.New(seal.Config{Purpose: Purpose, Keys: cfg.Keys})
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	s := &Store{inner: cfg.Inner, ring: ring, cfg: cfg, logger: cfg.Logger}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.cfg.Keys = nil // the ring holds what it needs
	if l, ok := cfg.Inner.(session.Locker); ok {
		return &lockingStore{Store: s, locker: l}, nil
	}
	return s, nil
}

// ad is the associated data a record's blob is bound to.
func ad(rec *session.Record) []byte {
	b := make([]byte, 0, seal.StringLen(rec.Ref)+seal.StringLen(rec.User)+2*len(rec.ID))
	b = seal.AppendString(b, rec.Ref)
	b = seal.AppendString(b, rec.User)
	b = append(b, rec.ID[:]...)
	return append(b, rec.SecureID[:]...)
}

// sealRecord returns the copy of rec the inner store sees: Data sealed into
// Sealed. A Sealed that rec already carries (from an outer wrapper) travels
// inside the blob, so the wrapper is transparent and can be stacked.
func (s *Store) sealRecord(rec *session.Record) (*session.Record, error) {
	if rec == nil {
		return nil, errors.New("sealed: nil record")
	}
	n := 1 + seal.StringLen(string(rec.Sealed)) + seal.ValuesLen(rec.Data)
	buf := make([]byte, seal.Prefix, seal.Prefix+n+seal.TagSize)
	buf = append(buf, payloadVersion)
	buf = seal.AppendBytes(buf, rec.Sealed)
	buf = seal.AppendValues(buf, rec.Data)
	blob, err := s.ring.SealInPlace(buf, ad(rec))
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	out := *rec // shallow: rec belongs to the store now, and nothing below changes shared parts
	out.Data = nil
	out.Sealed = blob
	return &out, nil
}

// openRecord returns a copy of r with its Data unsealed. r is the inner
// store's (read-only) record and is not modified; the copy shares its
// read-only Aliases.
func (s *Store) openRecord(r *session.Record) (*session.Record, error) {
	if len(r.Sealed) == 0 {
		if s.cfg.AllowPlaintext {
			return r, nil
		}
		return nil, errNotSealed
	}
	pt, err := s.ring.Open(nil, r.Sealed, ad(r))
	if err != nil {
		return nil, err
	}
	rd := seal.NewReader(string(pt))
	v := rd.Byte()
	inner := rd.Str()
	data := rd.Values()
	if rd.Err() != nil || v != payloadVersion || rd.Len() != 0 {
		// Authentic but unreadable: only a bug or a future format gets here.
		return nil, fmt.Errorf("%w: payload version %d not readable", seal.ErrOpen, v)
	}
	out := *r
	out.Data = data
	out.Sealed = nil
	if inner != "" {
		out.Sealed = []byte(inner)
	}
	return &out, nil
}

// loadError turns a failure to open into the error Load returns, and logs it.
func (s *Store) loadError(ctx context.Context, r *session.Record, err error) error {
	attrs := []slog.Attr{slog.String("ref", r.Ref), slog.String("reason", err.Error())}
	if id, ok := seal.BlobKeyID(r.Sealed); ok {
		attrs = append(attrs, slog.String("key_id", id.String()))
	}
	if errors.Is(err, seal.ErrUnknownKey) && !s.cfg.UnknownKeyNotFound {
		attrs = append(attrs, slog.Any("ring_key_ids", s.ring.KeyIDs()))
		s.logger.LogAttrs(ctx, slog.LevelError,
			"sealed store: record sealed with a key that is not in this node's ring; check the key configuration (set UnknownKeyNotFound only after retiring a key on purpose)", attrs...)
		return fmt.Errorf("%w: sealed store: %w", session.ErrUnavailable, err)
	}
	s.logger.LogAttrs(ctx, slog.LevelError,
		"sealed store: record does not open (tampered, corrupted or moved between rows); treating it as not found", attrs...)
	return fmt.Errorf("%w: sealed store: %w", session.ErrNotFound, err)
}

// Load implements session.Store. See the package documentation for records
// that do not open.
func (s *Store) Load(ctx context.Context, h session.Hash) (*session.Record, error) {
	r, err := s.inner.Load(ctx, h)
	if err != nil {
		return nil, err
	}
	out, err := s.openRecord(r)
	if err != nil {
		return nil, s.loadError(ctx, r, err)
	}
	return out, nil
}

// Create implements session.Store.
func (s *Store) Create(ctx context.Context, rec *session.Record) error {
	sr, err := s.sealRecord(rec)
	if err != nil {
		return err
	}
	return s.inner.Create(ctx, sr)
}

// Update implements session.Store.
func (s *Store) Update(ctx context.Context, rec *session.Record, prev uint64) error {
	sr, err := s.sealRecord(rec)
	if err != nil {
		return err
	}
	return s.inner.Update(ctx, sr, prev)
}

// Delete implements session.Store.
func (s *Store) Delete(ctx context.Context, ref string) error { return s.inner.Delete(ctx, ref) }

// GC implements session.Store.
func (s *Store) GC(ctx context.Context, now time.Time) (int, error) { return s.inner.GC(ctx, now) }

// GCBacklog implements session.GCBacklogger: the inner store's, or none.
func (s *Store) GCBacklog() (expired int, behind bool) {
	if b, ok := s.inner.(session.GCBacklogger); ok {
		return b.GCBacklog()
	}
	return 0, false
}

// ListUser implements session.Store. A record that does not open is
// returned unopened (Data nil, Sealed set) and logged, never dropped: a
// "revoke every session of this user" must reach it.
func (s *Store) ListUser(ctx context.Context, user string) ([]*session.Record, error) {
	rs, err := s.inner.ListUser(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]*session.Record, len(rs))
	for i, r := range rs {
		o, err := s.openRecord(r)
		if err != nil {
			s.logger.LogAttrs(ctx, slog.LevelError, "sealed store: listed record does not open; returning it unopened",
				slog.String("ref", r.Ref), slog.String("reason", err.Error()))
			o = r
		}
		out[i] = o
	}
	return out, nil
}

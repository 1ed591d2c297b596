package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/sqlstore"
)

// Load implements session.Store: one join over two primary keys. Like the
// memory store it returns expired records until GC removes them; the
// Manager judges expiry by its own clock.
func (s *Store) Load(ctx context.Context, h session.Hash) (*session.Record, error) {
	if h.IsZero() {
		return nil, fmt.Errorf("postgres: load: %w", session.ErrNotFound)
	}
	l, ok, err := s.loads.Load(ctx, h)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fmt.Errorf("postgres: load: %w", session.ErrNotFound)
	case l.err != nil:
		return nil, fmt.Errorf("postgres: load: %w", l.err)
	}
	return l.rec, nil
}

// loaded is one record of a loadMany, or why it could not be decoded
// (that fails its own Load only).
type loaded struct {
	rec *session.Record
	err error
}

func (l loaded) clone() loaded {
	if l.rec != nil {
		l.rec = l.rec.Clone()
	}
	return l
}

// loadMany reads the records of hashes in one query: concurrent Loads
// share it (store/internal/batch).
func (s *Store) loadMany(ctx context.Context, hashes []session.Hash) (map[session.Hash]loaded, error) {
	c, ctx, done, err := s.conn(ctx, "load")
	if err != nil {
		return nil, err
	}
	defer done()
	var rows pgx.Rows
	if len(hashes) == 1 { // a lone Load (see queries.loadOne)
		rows, err = c.Query(ctx, s.q.loadOne, hashes[0][:])
	} else {
		arg := make([][]byte, len(hashes))
		for i := range hashes {
			arg[i] = hashes[i][:]
		}
		rows, err = c.Query(ctx, s.q.loadMany, arg)
	}
	if err != nil {
		return nil, s.fail("load", err)
	}
	defer rows.Close()
	out := make(map[session.Hash]loaded, len(hashes))
	for rows.Next() {
		var hash, blob, kv []byte
		var version int64
		var requests int32
		if err := rows.Scan(&hash, &blob, &kv, &version, &requests); err != nil {
			return nil, s.fail("load", err)
		}
		rec, err := decodeRow(blob, kv, version, requests)
		var h session.Hash
		copy(h[:], hash)
		out[h] = loaded{rec, err}
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("load", err)
	}
	return out, nil
}

// expires converts the stored form to a timestamptz argument (nil: never).
func expires(us *int64) *time.Time {
	if us == nil {
		return nil
	}
	t := time.UnixMicro(*us)
	return &t
}

// Create implements session.Store in one statement: the session row and
// its ID rows, or nothing if ref or a hash is taken (ErrCollision).
func (s *Store) Create(ctx context.Context, rec *session.Record) error {
	row, kv, err := newRow(rec)
	if err != nil {
		return fmt.Errorf("postgres: create: %w", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, s.q.create, row.Ref, row.User, expires(row.Expires), row.Version, row.Blob, row.Hashes, kv, rec.Requests); err != nil {
		return s.fail("create", err)
	}
	return nil
}

// Update implements session.Store in one statement (see queries.update):
// compare-and-swap on the version, and the ID rows follow rec.Hashes().
func (s *Store) Update(ctx context.Context, rec *session.Record, prev uint64) error {
	if err := sqlstore.CheckUpdate(rec, prev); err != nil {
		return fmt.Errorf("postgres: update: %w", err)
	}
	row, kv, err := newRow(rec)
	if err != nil {
		return fmt.Errorf("postgres: update: %w", err)
	}
	c, ctx, release, err := s.conn(ctx, "update")
	if err != nil {
		return err
	}
	defer release()
	var done bool
	var stored *int64
	err = c.QueryRow(ctx, s.q.update, row.Ref, row.User, expires(row.Expires), row.Version, row.Blob,
		int64(prev), row.Hashes, kv, rec.Requests).Scan(&done, &stored)
	switch {
	case err != nil:
		return s.fail("update", err)
	case done:
		return nil
	case stored == nil:
		return fmt.Errorf("postgres: update: %w", session.ErrNotFound)
	default:
		return fmt.Errorf("postgres: update: %w", session.ErrConflict)
	}
}

// Delete implements session.Store; the ID rows go by ON DELETE CASCADE.
func (s *Store) Delete(ctx context.Context, ref string) error {
	if !sqlstore.Storable(ref, sqlstore.MaxRefLen) {
		return nil // could never have been stored
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, s.q.delete, ref); err != nil {
		return s.fail("delete", err)
	}
	return nil
}

// ListUser implements session.Store, from the user_id index.
func (s *Store) ListUser(ctx context.Context, user string) ([]*session.Record, error) {
	if user == "" || !sqlstore.Storable(user, sqlstore.MaxUserLen) {
		return nil, nil // anonymous records are not listed; unstorable names have none
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, s.q.listUser, user)
	if err != nil {
		return nil, s.fail("list user", err)
	}
	defer rows.Close()
	out, err := decodeRows(rows)
	var corrupt corruptError
	switch {
	case errors.As(err, &corrupt):
		return nil, fmt.Errorf("postgres: list user: %w", err)
	case err != nil:
		return nil, s.fail("list user", err)
	}
	return out, nil
}

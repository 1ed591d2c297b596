package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/sqlstore"
)

// Load implements session.Store: one indexed join from the hash to the
// record, on a read connection, unless the read cache holds the record
// and nothing has been committed to the database since it was read. Like
// the memory store it returns expired records until GC removes them; the
// Manager judges expiry by its clock.
func (s *Store) Load(ctx context.Context, h session.Hash) (*session.Record, error) {
	if h.IsZero() {
		return nil, fmt.Errorf("sqlite: load: %w", session.ErrNotFound)
	}
	if s.cache == nil || s.closed.Load() {
		return s.load(ctx, h)
	}
	// The header is read before the query: a commit between the two
	// leaves the entry tagged with the older header, so it is never
	// served (stale at once), never wrongly fresh.
	at, ok := s.cache.header()
	if ok {
		if rec := s.cache.get(h, at); rec != nil {
			return rec, nil
		}
	}
	rec, err := s.load(ctx, h)
	if err == nil && ok {
		s.cache.put(h, rec, at)
	}
	return rec, err
}

func (s *Store) load(ctx context.Context, h session.Hash) (*session.Record, error) {
	s.queries.Add(1)
	ctx, cancel := s.op(ctx)
	defer cancel()
	var blob []byte
	err := s.st.load.QueryRowContext(ctx, h[:]).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: load: %w", session.ErrNotFound)
	}
	if err != nil {
		return nil, s.fail("load", err)
	}
	rec, err := sqlstore.Decode(blob)
	if err != nil {
		return nil, fmt.Errorf("sqlite: load: %w", err)
	}
	return rec, nil
}

// Create implements session.Store. The session row and its ID rows are
// inserted in one transaction; the unique key on sessions.ref and the
// primary key on ids.hash make a collision fail the whole transaction
// (ErrCollision), also against another process.
func (s *Store) Create(ctx context.Context, rec *session.Record) error {
	row, err := sqlstore.NewRow(rec)
	if err != nil {
		return fmt.Errorf("sqlite: create: %w", err)
	}
	return s.write(ctx, "create", func(ctx context.Context, tx *sql.Tx) ([]sqlstore.Row, error) {
		return []sqlstore.Row{row}, s.insert(ctx, tx, row)
	})
}

// insert writes a new record's session row and ID rows in tx.
func (s *Store) insert(ctx context.Context, tx *sql.Tx, row sqlstore.Row) error {
	var id int64
	if err := tx.StmtContext(ctx, s.st.insSession).QueryRowContext(ctx,
		row.Ref, row.User, row.Expires, row.Version, row.Blob).Scan(&id); err != nil {
		return err
	}
	ins := tx.StmtContext(ctx, s.st.insID)
	for _, h := range row.Hashes {
		if _, err := ins.ExecContext(ctx, h, id); err != nil {
			return err
		}
	}
	return nil
}

// Update implements session.Store: a compare-and-swap on the version and
// the rewrite of the record's ID rows, in one transaction. Only the hashes
// that changed are written, so a data-only update touches one table.
func (s *Store) Update(ctx context.Context, rec *session.Record, prev uint64) error {
	if err := sqlstore.CheckUpdate(rec, prev); err != nil {
		return fmt.Errorf("sqlite: update: %w", err)
	}
	row, err := sqlstore.NewRow(rec)
	if err != nil {
		return fmt.Errorf("sqlite: update: %w", err)
	}
	return s.write(ctx, "update", func(ctx context.Context, tx *sql.Tx) ([]sqlstore.Row, error) {
		return []sqlstore.Row{row}, s.updateTx(ctx, tx, row, prev, true)
	})
}

// updateTx is Update's compare-and-swap and ID-row rewrite inside tx.
// userChanged false (the caller knows the stored user is row's) leaves
// user_id and its index alone: one page less to write and fsync.
func (s *Store) updateTx(ctx context.Context, tx *sql.Tx, row sqlstore.Row, prev uint64, userChanged bool) error {
	id, ok, err := s.swapTx(ctx, tx, row, prev, userChanged)
	if err != nil {
		return err
	}
	if !ok { // no such ref, or not at version prev
		var v int64
		err := tx.StmtContext(ctx, s.st.version).QueryRowContext(ctx, row.Ref).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return session.ErrNotFound
		}
		if err != nil {
			return err
		}
		return session.ErrConflict
	}
	return s.rewriteIDs(ctx, tx, id, nil, row.Hashes)
}

// swapTx writes row's session row over the stored one if that is at
// version prev, and returns its id; ok is false, and nothing written, if
// there is no row with row.Ref at version prev.
func (s *Store) swapTx(ctx context.Context, tx *sql.Tx, row sqlstore.Row, prev uint64, userChanged bool) (id int64, ok bool, err error) {
	if userChanged {
		err = tx.StmtContext(ctx, s.st.update).QueryRowContext(ctx,
			row.User, row.Expires, row.Version, row.Blob, row.Ref, int64(prev)).Scan(&id)
	} else {
		err = tx.StmtContext(ctx, s.st.updateSameUser).QueryRowContext(ctx,
			row.Expires, row.Version, row.Blob, row.Ref, int64(prev)).Scan(&id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, err
}

// rewriteIDs makes the ID rows of session id exactly hashes. old are its
// current ID rows if the caller knows them (nil: they are read): the
// hashes that did not change are not touched.
func (s *Store) rewriteIDs(ctx context.Context, tx *sql.Tx, id int64, old, hashes [][]byte) error {
	if old == nil {
		var err error
		if old, err = s.hashesOf(ctx, tx, id); err != nil {
			return err
		}
	}
	removed, added := sqlstore.Diff(old, hashes)
	del := tx.StmtContext(ctx, s.st.delID)
	for _, h := range removed {
		if _, err := del.ExecContext(ctx, h); err != nil {
			return err
		}
	}
	ins := tx.StmtContext(ctx, s.st.insID)
	for _, h := range added {
		if _, err := ins.ExecContext(ctx, h, id); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) hashesOf(ctx context.Context, tx *sql.Tx, id int64) ([][]byte, error) {
	rows, err := tx.StmtContext(ctx, s.st.hashes).QueryContext(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Delete implements session.Store. The ID rows go with the session row
// (ON DELETE CASCADE).
func (s *Store) Delete(ctx context.Context, ref string) error {
	if !sqlstore.Storable(ref, sqlstore.MaxRefLen) {
		return nil // could never have been stored
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.st.delSession.ExecContext(ctx, ref); err != nil {
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
	rows, err := s.st.listUser.QueryContext(ctx, user)
	if err != nil {
		return nil, s.fail("list user", err)
	}
	defer rows.Close()
	out, err := sqlstore.DecodeAll(rows)
	switch {
	case sqlstore.IsCorrupt(err):
		return nil, fmt.Errorf("sqlite: list user: %w", err)
	case err != nil:
		return nil, s.fail("list user", err)
	}
	return out, nil
}

// write runs fn in one IMMEDIATE transaction on the writer connection,
// bounded by the store's timeout, and maps its error. fn returns the rows
// it wrote: once committed they go into the read cache (see cacheWritten),
// so the next request's Load of a record just written needs no query.
func (s *Store) write(ctx context.Context, op string, fn func(context.Context, *sql.Tx) ([]sqlstore.Row, error)) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(op, err)
	}
	var before walHeader
	var known bool
	if s.cache != nil {
		// BEGIN IMMEDIATE holds the write lock: no commit, by any
		// process, can land until this transaction's own.
		before, known = s.cache.header()
	}
	rows, err := fn(ctx, tx)
	if err != nil {
		tx.Rollback()
		return s.fail(op, err)
	}
	if err := tx.Commit(); err != nil {
		return s.fail(op, err)
	}
	if known && len(rows) > 0 {
		s.cacheWritten(before, rows)
	}
	return nil
}

// cacheWritten puts the records of rows, just committed, in the read
// cache, tagged with the WAL-index header read now — if that header is
// the one this commit wrote. Its change counter (iChange, which every
// commit increments; TestHeaderCountsCommits) must be one more than before
// the transaction: then the database is exactly as this commit left it,
// and a record read now would be the one written. Another process's
// commit since (two more) leaves the cache as it is.
func (s *Store) cacheWritten(before walHeader, rows []sqlstore.Row) {
	after, ok := s.cache.header()
	if !ok || after.changes() != before.changes()+1 {
		return
	}
	for _, row := range rows {
		rec, err := sqlstore.Decode(row.Blob) // the Store's own copy, as Load would return
		if err != nil {
			return
		}
		for _, h := range row.Hashes {
			s.cache.put(session.Hash(h), rec, after)
		}
	}
}

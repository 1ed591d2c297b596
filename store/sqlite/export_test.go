package sqlite

import (
	"context"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/sqlstore"
)

// BulkCreate inserts recs in one transaction with the statements Create
// uses, so tests and benchmarks can seed many rows without one fsync per
// record.
func BulkCreate(ctx context.Context, s *Store, recs []*session.Record) error {
	rows := make([]sqlstore.Row, len(recs))
	for i, rec := range recs {
		var err error
		if rows[i], err = sqlstore.NewRow(rec); err != nil {
			return err
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail("bulk create", err)
	}
	defer tx.Rollback()
	for _, row := range rows {
		if err := s.insert(ctx, tx, row); err != nil {
			return s.fail("bulk create", err)
		}
	}
	return tx.Commit()
}

// BulkExpired inserts n records expiring at exp, each with two ID rows and
// every tenth with user, generated inside SQLite (one statement per table,
// 50,000 records per transaction) so that tests and benchmarks can seed
// many rows quickly. Their blob is one valid record shared by all; their
// hashes are random and never looked up.
func BulkExpired(ctx context.Context, s *Store, n int, exp time.Time, user string) error {
	row, err := sqlstore.NewRow(&session.Record{Ref: "bulk", Version: 1, Expires: exp, User: user})
	if err != nil {
		return err
	}
	for done := 0; done < n; done += 50_000 {
		if err := s.bulkExpired(ctx, min(50_000, n-done), row); err != nil {
			return s.fail("bulk expired", err)
		}
	}
	return nil
}

func (s *Store) bulkExpired(ctx context.Context, n int, row sqlstore.Row) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var first int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM sessions`).Scan(&first); err != nil {
		return err
	}
	for _, q := range []struct {
		text string
		args []any
	}{
		{`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
		  INSERT INTO sessions (id, ref, user_id, expires, version, blob)
		  SELECT ? + i, 'bulk-' || hex(randomblob(16)), CASE WHEN i % 10 = 0 THEN ? END, ?, 1, ? FROM n`,
			[]any{n, first, row.User, row.Expires, row.Blob}},
		{`INSERT INTO ids (hash, sid) SELECT randomblob(32), id FROM sessions WHERE id >= ?`, []any{first}},
		{`INSERT INTO ids (hash, sid) SELECT randomblob(32), id FROM sessions WHERE id >= ?`, []any{first}},
	} {
		if _, err := tx.ExecContext(ctx, q.text, q.args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Checkpoint copies the WAL into the database file and truncates it, so a
// benchmark's measurements do not pay for its seeding.
func Checkpoint(ctx context.Context, s *Store) error {
	_, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// LoadQueries counts the loads that read the database instead of the
// read cache.
func LoadQueries(s *Store) int64 { return s.queries.Load() }

// CommitCount reads the WAL-index header's change counter, and whether
// the header could be read.
func CommitCount(s *Store) (uint32, bool) {
	h, ok := s.cache.header()
	return h.changes(), ok
}

// RawPrepared counts the statements the in-place merge prepared on the
// writer connection.
func RawPrepared(s *Store) int {
	s.raw.mu.Lock()
	defer s.raw.mu.Unlock()
	return s.raw.prepared
}

// WriterBusy reports whether the writer connection is taken.
func WriterBusy(s *Store) bool { return s.w.Stats().InUse > 0 }

// WriterSynchronous reads the writer connection's synchronous setting
// (2: FULL).
func WriterSynchronous(ctx context.Context, s *Store) (int, error) {
	var n int
	err := s.w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&n)
	return n, err
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/sqlstore"
)

// maxMergeBatch bounds how many queued merges share one transaction (and
// its Timeout, and its fate if the commit fails).
const maxMergeBatch = 32

// mergeQueue is group commit for Merge: merges that arrive while one is
// being written queue up, and the next transaction applies all of them
// (each in its own savepoint, so one failure fails only its caller) with
// one commit — one fsync for many writers, instead of one each. The first
// caller to find no transaction running writes the batches until the
// queue is empty.
type mergeQueue struct {
	mu      sync.Mutex
	pending []*mergeReq
	running bool
}

type mergeReq struct {
	ctx  context.Context
	c    *session.Change
	done chan error // buffered: the writer never blocks on a caller
}

// Merge implements session.Merger: the stored record is read, the change
// set applied (session.Change.Apply) and the result written if it differs,
// in one IMMEDIATE transaction shared with the merges queued meanwhile.
// Concurrent merges wait for the writer instead of failing; ctx bounds the
// wait, the store's Timeout bounds the transaction.
func (s *Store) Merge(ctx context.Context, c *session.Change) error {
	if err := sqlstore.CheckRecord(c.Next); err != nil {
		return fmt.Errorf("sqlite: merge: %w", err)
	}
	req := &mergeReq{ctx: ctx, c: c, done: make(chan error, 1)}
	q := &s.merges
	q.mu.Lock()
	q.pending = append(q.pending, req)
	lead := !q.running
	q.running = true
	q.mu.Unlock()
	if lead {
		s.writeMerges()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return s.fail("merge", fmt.Errorf("waiting for the writer: %w", context.Cause(ctx)))
	}
}

// writeMerges writes one batch, then hands the rest (if any) to a new
// goroutine, so the request that led is not kept writing for others.
func (s *Store) writeMerges() {
	q := &s.merges
	q.mu.Lock()
	n := min(len(q.pending), maxMergeBatch)
	batch := q.pending[:n:n]
	q.pending = q.pending[n:]
	q.mu.Unlock()
	s.mergeBatch(batch)
	q.mu.Lock()
	more := len(q.pending) > 0
	q.running = more
	q.mu.Unlock()
	if more {
		go s.writeMerges()
	}
}

func (s *Store) mergeBatch(batch []*mergeReq) {
	tryBase := true // the transaction first tries the compare-and-swap on Base
	if len(batch) == 1 && sqlstore.KeepsIDs(batch[0].c) {
		if done, err := s.mergeInPlace(batch[0]); done {
			batch[0].done <- err
			return
		}
		tryBase = false // the record has moved on from Base: read it
	}
	results := make([]error, len(batch))
	err := s.write(context.Background(), "merge", func(ctx context.Context, tx *sql.Tx) ([]sqlstore.Row, error) {
		if len(batch) == 1 { // alone: its failure may roll back the whole transaction
			if err := batch[0].ctx.Err(); err != nil {
				results[0] = err
				return nil, nil
			}
			row, err := s.mergeTx(ctx, tx, batch[0].c, tryBase)
			return written(nil, row), err
		}
		var rows []sqlstore.Row
		for i, req := range batch {
			if err := req.ctx.Err(); err != nil {
				results[i] = err // its caller has given up: do not write it
				continue
			}
			if _, err := tx.ExecContext(ctx, `SAVEPOINT merge`); err != nil {
				return nil, err
			}
			var row *sqlstore.Row
			row, results[i] = s.mergeTx(ctx, tx, req.c, true)
			if results[i] != nil {
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO merge`); err != nil {
					return nil, err
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE merge`); err != nil {
				return nil, err
			}
			if results[i] == nil {
				rows = written(rows, row)
			}
		}
		return rows, nil
	})
	for i, req := range batch {
		switch {
		case err != nil:
			req.done <- err
		case results[i] != nil:
			req.done <- s.fail("merge", results[i])
		default:
			req.done <- nil
		}
	}
}

// mergeInPlace writes the most common merge — alone in its batch, on the
// version the request loaded, keeping its ID hashes (sqlstore.KeepsIDs) — as one
// statement with no explicit transaction: the compare-and-swap UPDATE is
// atomic by itself, and the ID rows stay as they are. done is false, with
// nothing written, when the stored record is no longer at the change set's
// base: the transaction then does the rest.
func (s *Store) mergeInPlace(req *mergeReq) (done bool, err error) {
	c := req.c
	if err := req.ctx.Err(); err != nil {
		return true, s.fail("merge", err)
	}
	row, err := sqlstore.NewRow(c.Next)
	if err != nil {
		return true, s.fail("merge", err)
	}
	ctx, cancel := s.op(req.ctx)
	defer cancel()
	var before walHeader
	var known bool
	if s.cache != nil {
		// Read before the statement: if the counter has moved by exactly
		// one after it, the one commit in between was this statement's.
		before, known = s.cache.header()
	}
	n, err := s.swapInPlace(ctx, row, c.Base.Version, c.Next.User != c.Base.User)
	if err != nil {
		return true, s.fail("merge", err)
	}
	if n == 0 {
		return false, nil
	}
	if known {
		s.cacheWritten(before, []sqlstore.Row{row})
	}
	return true, nil
}

// swapInPlace is the in-place merge's compare-and-swap UPDATE, alone in
// its transaction, and the rows it changed (0: not at base). When the
// busy timeout is within the operation's (uncancelled), it runs without a
// context the driver watches (rawStmts), else through database/sql.
func (s *Store) swapInPlace(ctx context.Context, row sqlstore.Row, base uint64, userChanges bool) (int64, error) {
	query, stmt := sqlUpdateSameUser, s.st.updateSameUser
	args := []any{value(row.Expires), row.Version, row.Blob, row.Ref, int64(base)}
	if userChanges {
		query, stmt = sqlUpdate, s.st.update
		args = append([]any{value(row.User)}, args...)
	}
	if s.uncancelled {
		return s.raw.exec(ctx, s.w, query, args...)
	}
	res, err := stmt.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// mergeTx applies one change set inside tx. Most often the stored record
// is still c.Base (the request's load just read it), so unless the caller
// already found otherwise (tryBase false) it first tries the
// compare-and-swap on Base's version (rule 2) without reading the row; and
// when Next keeps Base's ID hashes, the ID rows need neither a read nor a
// write.
//
// It returns the row it wrote: nil when the change set changed nothing.
func (s *Store) mergeTx(ctx context.Context, tx *sql.Tx, c *session.Change, tryBase bool) (*sqlstore.Row, error) {
	if tryBase {
		row, err := sqlstore.NewRow(c.Next)
		if err != nil {
			return nil, err
		}
		id, ok, err := s.swapTx(ctx, tx, row, c.Base.Version, c.Next.User != c.Base.User)
		if err != nil {
			return nil, err
		}
		if ok {
			var old [][]byte // unknown: read them
			if sqlstore.KeepsIDs(c) {
				old = row.Hashes
			}
			return &row, s.rewriteIDs(ctx, tx, id, old, row.Hashes)
		}
	}
	var blob []byte
	err := tx.StmtContext(ctx, s.st.current).QueryRowContext(ctx, c.Next.Ref).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, session.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	cur, err := sqlstore.Decode(blob)
	if err != nil {
		return nil, err
	}
	next, err := c.Apply(cur)
	if err != nil || next == nil {
		return nil, err
	}
	row, err := sqlstore.NewRow(next)
	if err != nil {
		return nil, err
	}
	return &row, s.updateTx(ctx, tx, row, cur.Version, next.User != cur.User)
}

// written appends row, if there is one, to rows.
func written(rows []sqlstore.Row, row *sqlstore.Row) []sqlstore.Row {
	if row == nil {
		return rows
	}
	return append(rows, *row)
}

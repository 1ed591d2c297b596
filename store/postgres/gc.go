package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessiond/sessiond/store/internal/sqlstore"
)

// GC implements session.Store. It deletes expired records (and, by
// cascade, their ID rows) in batches, each one short transaction of its
// own that skips rows requests hold locked (FOR UPDATE SKIP LOCKED), until
// a batch comes back short or ctx ends (then it returns the count so far).
//
// The ids to delete are read from the expiry index gcChunk at a time, and
// each batch deletes its share by primary key, checking that each record
// is still expired (a request may have renewed it since). Deleted index
// entries stay in the index until a vacuum, so a batch that found its rows
// by scanning the expiry index from its start (as GC did before) read all
// those its predecessors had deleted: halfway through a sweep of 200,000
// rows, 231 index pages instead of 5, 0.4 to 0.8 ms of a 100-row batch,
// and more with every batch. Now the scan is once per chunk.
//
// Requests never wait for a GC statement's locks, but they share the
// server's CPU and disk with it, so a sweep yields: a batch is sized to
// take about Config.GCTarget (at most Config.GCBatch rows) and GC pauses
// three times as long after each (gcPause). What a load waits for while a
// sweep runs is the rest of a batch's CPU burst when both cores are busy,
// so short batches matter more than long pauses: measured in sweeps of
// 200,000 rows on 2 cores, loads' p99 was 1.8 ms with 2 ms batches and a
// pause 3 or 6 times as long alike, 1.25 ms with 1 ms batches and 0.9 ms
// with 0.5 ms ones (0.6 to 0.8 ms with no sweep); with the chunked ids
// those still delete 8,500 rows a second (before: 900, most of a batch
// being the index scan). A batch commits without waiting for its WAL to
// reach the disk (synchronous_commit off, for its transaction only): a
// crash may undo the last deletions, which the next sweep repeats.
//
// A finished sweep counts the records that expired while it ran and logs
// a warning when GC falls behind (see GCBacklog).
func (s *Store) GC(ctx context.Context, now time.Time) (int, error) {
	cut := time.UnixMicro(sqlstore.NowMicros(now))
	start := time.Now()
	var queue []int64 // expired records' ids, read but not yet deleted
	last := false     // queue holds the last of them
	n, err := sqlstore.GC(ctx, s.gcPlan, func(ctx context.Context, limit int) (sqlstore.Batch, error) {
		if len(queue) < limit && !last {
			// The ids left in queue are read again: still expired, they
			// come first.
			ids, err := s.gcCandidates(ctx, cut, max(gcChunk, 4*limit))
			if err != nil {
				return sqlstore.Batch{}, err
			}
			queue, last = ids, len(ids) < max(gcChunk, 4*limit)
		}
		ids := queue[:min(limit, len(queue))]
		queue = queue[len(ids):]
		n, err := s.gcBatch(ctx, cut, ids)
		return sqlstore.Batch{Deleted: n, Tried: len(ids)}, err
	})
	took := time.Since(start)
	s.log.Debug("postgres session store: gc", "deleted", n, "elapsed", took, "error", err)
	if err == nil {
		left, cerr := s.countExpired(ctx, time.UnixMicro(sqlstore.NowMicros(now.Add(took))))
		if cerr != nil {
			return n, cerr
		}
		s.backlog.Sweep(s.log, "postgres session store", now, took, n, left)
	}
	return n, err
}

// GCBacklog implements session.GCBacklogger.
func (s *Store) GCBacklog() (expired int, behind bool) { return s.backlog.Get() }

// gcChunk is how many expired records' ids a sweep reads with one query
// of the expiry index (at least four batches' worth).
const gcChunk = 10_000

// gcCandidates reads the ids of up to limit records expired at cut, the
// oldest first.
func (s *Store) gcCandidates(ctx context.Context, cut time.Time, limit int) ([]int64, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, s.q.gcCandidates, cut, limit)
	if err != nil {
		return nil, s.fail("gc", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, s.fail("gc", err)
	}
	return ids, nil
}

// gcBatch deletes the records of ids that are still expired at cut and
// not locked, in one transaction (a pipelined batch is one implicit
// transaction) that does not wait for its commit to be flushed.
func (s *Store) gcBatch(ctx context.Context, cut time.Time, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	var n int64
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
	b.Queue(s.q.gcBatch, ids, cut).Exec(func(tag pgconn.CommandTag) error {
		n = tag.RowsAffected()
		return nil
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, s.fail("gc", err)
	}
	return int(n), nil
}

func (s *Store) countExpired(ctx context.Context, cut time.Time) (int, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var n int
	if err := s.pool.QueryRow(ctx, s.q.expired, cut).Scan(&n); err != nil {
		return 0, s.fail("gc: count expired", err)
	}
	return n, nil
}

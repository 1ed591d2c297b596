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
// Requests never wait for a GC statement's locks, but they share the
// server's CPU and disk with it, so a sweep yields: a batch is sized to
// take about Config.GCTarget (at most Config.GCBatch rows) and GC pauses
// three times as long after each (gcPause). A batch commits without
// waiting for its WAL to reach the disk (synchronous_commit off, for its
// transaction only): a crash may undo the last deletions, which the next
// sweep repeats.
//
// A finished sweep counts the records that expired while it ran and logs
// a warning when GC falls behind (see GCBacklog).
func (s *Store) GC(ctx context.Context, now time.Time) (int, error) {
	cut := time.UnixMicro(sqlstore.NowMicros(now))
	start := time.Now()
	n, err := sqlstore.GC(ctx, s.gcPlan, func(ctx context.Context, limit int) (sqlstore.Batch, error) {
		n, err := s.gcBatch(ctx, cut, limit)
		return sqlstore.Batch{Deleted: n}, err
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

// gcBatch deletes up to limit records expired at cut in one transaction
// (a pipelined batch is one implicit transaction) that does not wait for
// its commit to be flushed.
func (s *Store) gcBatch(ctx context.Context, cut time.Time, limit int) (int, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var n int64
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
	b.Queue(s.q.gcBatch, cut, limit).Exec(func(tag pgconn.CommandTag) error {
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

package sqlite

import (
	"context"
	"database/sql/driver"
	"os"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/store/internal/sqlstore"
)

// sqlGCBatch deletes up to a limit of the records expired at a cut-off
// (and, by cascade, their ID rows).
const sqlGCBatch = `DELETE FROM sessions WHERE id IN (
	SELECT id FROM sessions WHERE expires <= ? ORDER BY expires LIMIT ?)`

// writerPoll is how often a GC batch checks whether a request waits for
// the writer connection.
const writerPoll = 200 * time.Microsecond

// gcCheckpointEvery is how often a GC sweep checkpoints between its
// batches (see gcCheckpoint). Each checkpoint ends with an fsync of the
// database file, behind which requests' commits queue for the disk:
// measured in sweeps of 200,000 rows on the benchmark machine, the commit
// of a request's update took 3.4 ms at p99 with a checkpoint every 100 ms
// (checkpointEvery), 1.7 ms every 500 ms and 1.3 ms every 2 s (0.9 ms with
// no sweep), and the sweep ran faster (fewer copies of pages it rewrites).
// Readers find the frames not yet copied in the WAL meanwhile.
const gcCheckpointEvery = 2 * time.Second

// gcRestartFrames is the WAL length past which a GC sweep starts the WAL
// over from the writer connection (see gcCheckpoint): 256 MiB of 4 KiB
// pages, a few seconds of a sweep. At 10 × restartFrames a sweep of
// 100,000 rows ran 20% faster but raised requests' update p99 by half.
const gcRestartFrames = 64 * restartFrames

// GC implements session.Store. It deletes expired records (and, by
// cascade, their ID rows) in batches, each its own short write
// transaction on the writer connection, so that requests' writes
// interleave with a long collection; readers are never blocked (WAL).
//
// A sweep yields to requests' writes:
//   - a batch is sized to hold the writer for about Config.GCTarget (at
//     most Config.GCBatch rows), and GC pauses at least as long after it;
//   - a batch is abandoned (interrupted and rolled back) as soon as a
//     request, a merge or the checkpointer waits for the writer, and the
//     next is half the size; batches of sqlstore.GCMinBatch rows or fewer
//     run to the end, so that a sweep progresses under any write load;
//   - a batch commits without an fsync (synchronous=NORMAL for its
//     transaction), and GC then fsyncs the WAL itself, after it has let
//     go of the writer (walSyncer): otherwise the next request's commit
//     would flush the batch's pages with its own (measured: a request's
//     commit took 0.56 ms at p50 and 1.3 ms at p99 during a sweep, against
//     0.40 and 1.16 ms with GC syncing its own). A power loss before that
//     fsync may undo the batch, which the next sweep repeats;
//   - the sweep checkpoints between its batches every gcCheckpointEvery,
//     and lets the WAL grow to about 256 MiB before it starts it over (see
//     gcCheckpoint).
//
// What a request still waits for during a sweep: the rest of a batch
// (batches of sqlstore.GCMinBatch rows or fewer run to the end, and half
// of a batch is its commit, which cannot be interrupted), both for the
// writer and, on a machine with few cores, for the CPU the batch runs on;
// and a commit slower than idle while the sweep's pages reach the disk.
// Short batches (the default GCTarget, 0.5 ms) keep both small at the
// cost of the sweep's rate: in sweeps of 1,000,000 rows, loads' and
// updates' p99 were 1.0–1.2× idle at 1,950–2,800 rows a second, against
// 1.85–2.14× (loads) at 4,150–4,950 rows a second with 1 ms batches.
//
// It stops early, with the count so far, when ctx ends. A finished sweep
// counts the records that expired while it ran and logs a warning when GC
// falls behind (see GCBacklog).
func (s *Store) GC(ctx context.Context, now time.Time) (int, error) {
	cut := sqlstore.NowMicros(now)
	start := time.Now()
	s.ckpt.gcs.Add(1)
	defer s.ckpt.gcs.Add(-1)
	last := start
	var wal walSyncer
	defer wal.close()
	n, err := sqlstore.GC(ctx, s.gcPlan, func(ctx context.Context, limit int) (sqlstore.Batch, error) {
		if time.Since(last) >= gcCheckpointEvery {
			s.gcCheckpoint(ctx)
			last = time.Now()
		}
		b, err := s.gcBatch(ctx, cut, limit)
		if err == nil && b.Deleted > 0 && s.gcSync {
			wal.sync(s.path + "-wal")
		}
		return b, err
	})
	took := time.Since(start)
	s.log.Debug("sqlite session store: gc", "deleted", n, "elapsed", took, "error", err)
	if err != nil {
		return n, err
	}
	left, err := s.countExpired(ctx, sqlstore.NowMicros(now.Add(took)))
	if err != nil {
		return n, err
	}
	s.backlog.Sweep(s.log, "sqlite session store", now, took, n, left)
	return n, nil
}

// GCBacklog implements session.GCBacklogger.
func (s *Store) GCBacklog() (expired int, behind bool) { return s.backlog.Get() }

// countExpired counts the records expired at cut, on a read connection.
func (s *Store) countExpired(ctx context.Context, cut int64) (int, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var n int
	if err := s.st.expired.QueryRowContext(ctx, cut).Scan(&n); err != nil {
		return 0, s.fail("gc: count expired", err)
	}
	return n, nil
}

// gcBatch runs one GC batch on the writer connection, in an IMMEDIATE
// transaction of its own; see GC. A batch whose DELETE is interrupted for
// a waiting writer is rolled back whole (the driver may report a DELETE
// that had just finished as interrupted: the rollback undoes it too).
func (s *Store) gcBatch(ctx context.Context, cut int64, limit int) (b sqlstore.Batch, err error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return b, s.fail("gc", err)
	}
	start := time.Now()
	defer func() {
		conn.Close()
		b.Held = time.Since(start)
	}()
	if s.gcSync {
		if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
			return b, s.fail("gc", err)
		}
		defer func() {
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = `+s.sync); rerr != nil {
				// Never hand requests a writer that does not sync.
				conn.Raw(func(any) error { return driver.ErrBadConn })
				if err == nil {
					err = s.fail("gc", rerr)
				}
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return b, s.fail("gc", err)
	}
	bctx, abandon := context.WithCancel(ctx)
	defer abandon()
	var yielded atomic.Bool
	if limit > sqlstore.GCMinBatch {
		stop := s.onWriterWait(func() {
			yielded.Store(true)
			abandon()
		})
		defer stop()
	}
	res, err := tx.ExecContext(bctx, sqlGCBatch, cut, limit)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		tx.Rollback()
		if yielded.Load() && ctx.Err() == nil {
			return sqlstore.Batch{Yielded: true}, nil // the writer is the request's
		}
		return b, s.fail("gc", err)
	}
	if err := tx.Commit(); err != nil {
		return b, s.fail("gc", err)
	}
	return sqlstore.Batch{Deleted: int(n)}, nil
}

// gcCheckpoint is the checkpointer's work (see checkpointer) done by a GC
// sweep between two batches, every checkpointEvery: a passive checkpoint
// on the checkpointer's connection, while the sweep is not writing, copies
// what it wrote without holding the writer. Requests commit meanwhile, so
// the WAL rarely starts over by itself; once it has grown past
// gcRestartFrames, the checkpoint runs once more on the writer connection,
// as the checkpointer does, for the few frames left, and the next write
// starts the WAL over. That costs the writer an fsync or two (measured:
// 0.3 to 10 ms on the benchmark machine), once per gcRestartFrames instead
// of once per restartFrames. Failures are left to the checkpointer, which
// logs them once the sweep ends.
func (s *Store) gcCheckpoint(ctx context.Context) {
	frames, err := checkpoint(s.ckpt.db, s.timeout)
	if err != nil || frames < gcRestartFrames {
		return
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	var busy, log, copied int
	conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &copied)
}

// onWriterWait calls f, once, as soon as a request for the writer
// connection (held by the caller) has to wait for it, until stop is
// called. database/sql counts such waits (DBStats.WaitCount) as they
// begin, whoever waits: Create, Update, Delete, merges, the checkpointer.
func (s *Store) onWriterWait(f func()) (stop func()) {
	base := s.w.Stats().WaitCount
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(writerPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if s.w.Stats().WaitCount != base {
					f()
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// walSyncer fsyncs the WAL file for a GC sweep, on a descriptor of its
// own, without holding the writer: an fsync of any descriptor of a file
// makes all its written pages durable, so the next request's commit has
// only its own to flush. A failure is left to that commit, which syncs the
// WAL anyway (at FULL or EXTRA, the only settings under which GC batches
// run at NORMAL).
type walSyncer struct {
	f   *os.File
	bad bool // the WAL could not be opened: stop trying
}

func (w *walSyncer) sync(path string) {
	if w.f == nil && !w.bad {
		f, err := os.OpenFile(path, os.O_RDWR, 0) // Windows flushes only a handle open for writing
		if err != nil {
			w.bad = true
			return
		}
		w.f = f
	}
	if w.f != nil {
		w.f.Sync()
	}
}

func (w *walSyncer) close() {
	if w.f != nil {
		w.f.Close()
	}
}

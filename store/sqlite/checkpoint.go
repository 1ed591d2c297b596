package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/internal/tick"
)

// checkpointEvery is how often the background checkpointer copies new WAL
// frames into the database file.
const checkpointEvery = 100 * time.Millisecond

// restartFrames is the WAL length (in frames: pages written; SQLite's
// automatic checkpoint uses the same bound) past which the checkpointer
// finishes a checkpoint on the writer connection, so the WAL starts over.
const restartFrames = 1000

// checkpointer moves the WAL into the database file in the background, on
// a connection of its own. SQLite's automatic checkpoint (turned off on
// the writer) runs inside whichever commit crosses 1000 WAL pages, copying
// them and fsyncing the database: one request in a few hundred would wait
// for that, and many during a GC. A PASSIVE checkpoint never blocks the
// writer or the readers; with nothing new in the WAL it costs almost
// nothing.
//
// A passive checkpoint copies the frames committed before it began; under
// a steady write load another commit always lands while it runs (it ends
// with an fsync of the database file), so the WAL is never wholly copied,
// SQLite never starts it over from the beginning, and it grows without
// bound — every commit then extends the file, which makes its fsync dearer.
// So once the WAL holds restartFrames frames, the checkpointer runs one more
// passive checkpoint on the writer connection: queued between this
// process's write transactions, it copies the few frames the first one
// left (and fsyncs the database file) with no commit in between, and the
// next write transaction starts the WAL over, writing over the file's
// existing pages. Writers wait for that one short checkpoint once per
// restartFrames frames, instead of SQLite's automatic checkpoint copying
// all of them inside a commit.
//
// A GC sweep writes tens of thousands of frames a second: a passive
// checkpoint racing it leaves hundreds, and the restart on the writer then
// held it for up to 10 ms, ten times a second, in front of requests'
// writes. So while a sweep runs (gcs > 0) the checkpointer leaves both
// steps to it: it runs them between its batches, every 2 s rather than
// every 100 ms (gcCheckpointEvery), and restarts the WAL 64 times less
// often (Store.gcCheckpoint).
type checkpointer struct {
	db   *sql.DB
	w    *sql.DB // the store's writer (one connection)
	log  *slog.Logger
	gcs  atomic.Int32       // GC sweeps in progress
	stop context.CancelFunc // ends run
	done chan struct{}
}

func startCheckpointer(abs, busy string, w *sql.DB, timeout time.Duration, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn(abs, url.Values{"_pragma": {busy}}))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{db: db, w: w, log: log, stop: stop, done: make(chan struct{})}
	go c.run(ctx, timeout)
	return c, nil
}

func (c *checkpointer) run(ctx context.Context, timeout time.Duration) {
	defer close(c.done)
	failing := false
	tick.Every(ctx, checkpointEvery, func(time.Time) {
		if c.gcs.Load() > 0 {
			return // GC checkpoints between its batches
		}
		frames, err := checkpoint(c.db, timeout)
		if err == nil && frames >= restartFrames {
			_, err = checkpoint(c.w, timeout)
		}
		if isBusy(err) {
			return // another process is checkpointing: that will do
		}
		if err != nil && !failing { // once per failure streak, not ten times a second
			c.log.Warn("sqlite session store: background checkpoint failed; the WAL grows until it succeeds", "error", err)
		}
		failing = err != nil
	})
}

// checkpoint runs a passive checkpoint on db and returns the WAL's length
// in frames.
func checkpoint(db *sql.DB, timeout time.Duration) (frames int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var busy, copied int
	err = db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	return frames, err
}

// close stops the checkpointer; the writer's close then checkpoints the
// rest.
func (c *checkpointer) close() error {
	c.stop()
	<-c.done
	return c.db.Close()
}

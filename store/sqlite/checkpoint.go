package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"time"
)

// checkpointEvery is how often the background checkpointer copies new WAL
// frames into the database file.
const checkpointEvery = 100 * time.Millisecond

// checkpointer moves the WAL into the database file in the background, on
// a connection of its own. SQLite's automatic checkpoint (turned off on
// the writer) runs inside whichever commit crosses 1000 WAL pages, copying
// them and fsyncing the database: one request in a few hundred would wait
// for that, and many during a GC. A PASSIVE checkpoint never blocks the
// writer or the readers; with nothing new in the WAL it costs almost
// nothing.
type checkpointer struct {
	db   *sql.DB
	log  *slog.Logger
	stop chan struct{}
	done chan struct{}
}

func startCheckpointer(abs, busy string, timeout time.Duration, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn(abs, url.Values{"_pragma": {busy}}))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{db: db, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run(timeout)
	return c, nil
}

func (c *checkpointer) run(timeout time.Duration) {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		var busy, frames, copied int
		err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
		cancel()
		if isBusy(err) {
			continue // another process is checkpointing: that will do
		}
		if err != nil && !failing { // once per failure streak, not ten times a second
			c.log.Warn("sqlite session store: background checkpoint failed; the WAL grows until it succeeds", "error", err)
		}
		failing = err != nil
	}
}

// close stops the checkpointer; the writer's close then checkpoints the
// rest.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}

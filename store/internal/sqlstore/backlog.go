package sqlstore

import (
	"log/slog"
	"sync"
	"time"
)

// Backlog follows whether a store's GC keeps up with the rate at which
// records expire, for session.GCBacklogger. The zero value is ready.
//
// A sweep deletes the records expired at its cut-off. If it takes longer
// than the span of expiry times it covered (its cut-off minus the previous
// sweep's), more records expired while it ran than it deleted in that
// time, so the next sweep has more to do, takes longer again, and the
// expired rows pile up: GC is falling behind. Expired records are never
// served meanwhile (the Manager refuses a record past its end), but the
// table and its indexes grow.
type Backlog struct {
	mu      sync.Mutex
	prevCut time.Time // cut-off of the last finished sweep; zero: none yet
	left    int
	behind  bool
}

// Sweep records a finished sweep that deleted the records expired at cut
// (deleted of them) in took, leaving left records that had expired by its
// end (cut plus took). The first sweep of a process covers all of history
// and is not judged, nor one whose cut-off is not after the previous one.
// A sweep that falls behind logs a warning on log, and the first sweep
// that keeps up again says so; store names the store in those lines.
func (b *Backlog) Sweep(log *slog.Logger, store string, cut time.Time, took time.Duration, deleted, left int) {
	b.mu.Lock()
	span := cut.Sub(b.prevCut)
	judged := !b.prevCut.IsZero() && span > 0
	was := b.behind
	if judged {
		b.behind = took > span
	}
	if b.prevCut.IsZero() || cut.After(b.prevCut) {
		b.prevCut = cut
	}
	b.left = left
	behind := b.behind
	b.mu.Unlock()
	switch {
	case judged && behind:
		log.Warn(store+": GC is falling behind: records expire faster than it deletes them (expired records are still refused)",
			"deleted", deleted, "still_expired", left, "elapsed", took, "covered", span)
	case judged && was:
		log.Info(store+": GC keeps up again", "deleted", deleted, "still_expired", left, "elapsed", took, "covered", span)
	}
}

// Get reports the expired records left when the last sweep ended and
// whether GC is falling behind.
func (b *Backlog) Get() (expired int, behind bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left, b.behind
}

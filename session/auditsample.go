package session

import (
	"sync"
	"time"
)

// unknownSampleEvery is how often, at most, a Manager audits an unknown ID
// (session.unknown_id). Each event carries how many unknown IDs arrived
// since the previous one, so a flood costs one line per interval and still
// shows its size.
const unknownSampleEvery = 10 * time.Second

// sampler lets one event through per interval and counts the rest.
type sampler struct {
	mu    sync.Mutex
	last  time.Time
	count int
}

// hit counts one occurrence and reports whether to emit an event now, with
// the occurrences it stands for (itself and those suppressed before it).
func (s *sampler) hit(now time.Time, every time.Duration) (emit bool, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	if !s.last.IsZero() && now.Sub(s.last) < every && !now.Before(s.last) {
		return false, 0
	}
	count, s.count, s.last = s.count, 0, now
	return true, count
}

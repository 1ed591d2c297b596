package session

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Compare-and-swap retries (stores without Merger, and Merger's identity
// conflicts) wait with exponential backoff and full jitter, bounded by the
// request's context; a context without a deadline gets retryBudget.
const (
	retryFirst  = 500 * time.Microsecond
	retryMax    = 50 * time.Millisecond
	retryBudget = 30 * time.Second
)

// backoff is the retry state of one save.
type backoff struct {
	n     int
	start time.Time
}

// wait sleeps before the next attempt, or returns why there is none.
func (b *backoff) wait(ctx context.Context) error {
	if b.n == 0 {
		b.start = time.Now()
	}
	b.n++
	if _, ok := ctx.Deadline(); !ok && time.Since(b.start) > retryBudget {
		return fmt.Errorf("gave up after %d conflicting writes in %v", b.n-1, retryBudget)
	}
	d := retryFirst << min(b.n-1, 10)
	d = min(d, retryMax)
	d = time.Duration(rand.Int64N(int64(d)) + 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("gave up after %d conflicting writes: %w", b.n-1, context.Cause(ctx))
	case <-t.C:
		return nil
	}
}

// Package tick runs background work on a timer: the one loop behind the
// gateway's reloads, the session GC, store sweeps and lock renewals.
package tick

import (
	"context"
	"time"
)

// Every calls fn with the tick's time every interval until ctx ends; it
// returns when ctx ends (never during fn). A fn that is done for good
// cancels ctx. The first call comes one interval after Every starts.
func Every(ctx context.Context, every time.Duration, fn func(now time.Time)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fn(now)
		}
	}
}

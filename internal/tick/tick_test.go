package tick

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestEvery: fn runs once per interval, never before the first one, and
// Every returns as soon as ctx ends.
func TestEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		var at []time.Duration
		done := make(chan struct{})
		go func() {
			defer close(done)
			Every(ctx, time.Minute, func(now time.Time) {
				at = append(at, now.Sub(start))
				if len(at) == 3 {
					cancel() // done for good
				}
			})
		}()
		<-done
		want := []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}
		if len(at) != len(want) {
			t.Fatalf("fn ran at %v, want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("fn ran at %v, want %v", at, want)
			}
		}
		if elapsed := time.Since(start); elapsed != 3*time.Minute {
			t.Fatalf("Every returned after %v, want 3m", elapsed)
		}
	})
}

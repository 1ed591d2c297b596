package cli

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// heapFloor is the heap size below which the gateway does not collect
// garbage: a proxy's live heap is a few MiB, so with Go's default
// (GOGC=100, collect when the heap doubles) it would run a collection
// every few thousand requests, and the collector's work would be a large
// part of each request's CPU time.
const heapFloor = 64 << 20

// tuneGC keeps the next collection at least heapFloor bytes of heap away
// (GOGC raised while the live heap is small) and at Go's default once
// the live heap is larger than heapFloor/2 (a memory store holding many
// sessions gets GOGC=100). A GOGC set in the environment wins: then
// tuneGC does nothing.
func tuneGC(ctx context.Context) {
	if os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := -2
	for {
		metrics.Read(sample)
		live := int64(sample[0].Value.Uint64())
		if sample[0].Value.Kind() != metrics.KindUint64 || live <= 0 {
			live = 1 << 20
		}
		pct := gcPercent(live)
		if pct != last {
			debug.SetGCPercent(pct)
			last = pct
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// gcPercent is the GOGC that puts the next collection at heapFloor for a
// live heap of live bytes, never below Go's default of 100.
func gcPercent(live int64) int {
	return int(max(100, (heapFloor-live)*100/live))
}

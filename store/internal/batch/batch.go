// Package batch coalesces concurrent point reads of a network store into
// shared round trips: under load, the requests that arrive while a fetch
// is on the wire go out together in the next one, so a database answers
// one query for many requests instead of one each (the DataLoader idea).
//
// Freshness: a read only ever joins a fetch that has not been sent yet, so
// its answer reflects the store at some moment after the read began — a
// write acknowledged before a Load call is always seen by it. An idle
// Loader adds no wait: a lone read is sent at once.
package batch

import (
	"context"
	"sync"
	"time"
)

// Loader batches Load calls. Its zero value is not usable: set Fetch.
// A Loader is safe for concurrent use.
type Loader[K comparable, V any] struct {
	// Fetch reads keys (distinct, at least one) in one round trip. A key
	// that does not exist is left out of the map. An error fails every
	// Load of that fetch. For a fetch that others may join, ctx is
	// detached from the callers' cancellation (one caller giving up must
	// not fail the others) and bounded by Timeout; a Load sent at once,
	// alone, fetches under its caller's ctx, as an unbatched store would.
	Fetch func(ctx context.Context, keys []K) (map[K]V, error)
	// Clone copies a value for the second and later callers of one key in
	// a fetch, when values are mutable; nil shares them.
	Clone func(V) V
	// MaxInFlight bounds the fetches on the wire at once; a Load that
	// finds them all busy waits for the next fetch. Default 2.
	MaxInFlight int
	// MaxBatch bounds the keys of one fetch; a Load that finds the next
	// fetch full is sent on its own. Default 128.
	MaxBatch int
	// Timeout bounds a shared fetch (see Fetch). Default 5 s.
	Timeout time.Duration

	mu       sync.Mutex
	inFlight int
	next     *round[K, V] // filling while fetches are in flight
}

// round is one fetch: its keys, the callers waiting for it, the answer.
type round[K comparable, V any] struct {
	keys []K
	want map[K]int // callers per key
	ctx  context.Context
	done chan struct{}
	vals map[K]V
	err  error
	// copies are the Clones for the other callers of a key, made before
	// anyone gets the fetched value (taken under Loader.mu).
	copies map[K][]V
}

// newRound starts a shared round. Its fetch runs under ctx without its
// cancellation: one caller giving up must not fail the others.
func newRound[K comparable, V any](ctx context.Context) *round[K, V] {
	return &round[K, V]{want: map[K]int{}, ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
}

func (r *round[K, V]) add(k K) {
	if r.want[k] == 0 {
		r.keys = append(r.keys, k)
	}
	r.want[k]++
}

// Load returns the value of k, whether it exists, or the fetch's error.
func (l *Loader[K, V]) Load(ctx context.Context, k K) (V, bool, error) {
	var zero V
	l.mu.Lock()
	full := l.next != nil && len(l.next.keys) >= l.maxBatch() && l.next.want[k] == 0
	if l.inFlight < l.maxInFlight() || full {
		// Sent at once, alone (beyond MaxInFlight when the next fetch is
		// full): nobody joins a fetch already on its way, so it needs no
		// round, and it runs under the caller's context (the store bounds
		// its own operations; a detached shared fetch gets Timeout).
		l.inFlight++
		l.mu.Unlock()
		vals, err := l.Fetch(ctx, []K{k})
		l.finish()
		if err != nil {
			return zero, false, err
		}
		v, ok := vals[k]
		return v, ok, nil
	}
	if l.next == nil {
		l.next = newRound[K, V](ctx)
	}
	r := l.next
	r.add(k)
	l.mu.Unlock()
	select {
	case <-r.done:
		return l.answer(r, k)
	case <-ctx.Done():
		return zero, false, ctx.Err()
	}
}

// answer hands k's value of a finished round to one caller: a prepared
// copy while there are any, the fetched value to the last.
func (l *Loader[K, V]) answer(r *round[K, V], k K) (V, bool, error) {
	var zero V
	if r.err != nil {
		return zero, false, r.err
	}
	v, ok := r.vals[k]
	if !ok {
		return zero, false, nil
	}
	if l.Clone != nil && r.want[k] > 1 {
		l.mu.Lock()
		if c := r.copies[k]; len(c) > 0 {
			v, r.copies[k] = c[len(c)-1], c[:len(c)-1]
		}
		l.mu.Unlock()
	}
	return v, true, nil
}

func (l *Loader[K, V]) maxInFlight() int {
	if l.MaxInFlight > 0 {
		return l.MaxInFlight
	}
	return 2
}

func (l *Loader[K, V]) maxBatch() int {
	if l.MaxBatch > 0 {
		return l.MaxBatch
	}
	return 128
}

// run sends r and, when it is answered, starts the round that filled
// meanwhile (in a new goroutine, so r's caller returns at once).
func (l *Loader[K, V]) run(r *round[K, V]) {
	ctx, cancel := context.WithTimeout(r.ctx, l.timeout())
	r.vals, r.err = l.Fetch(ctx, r.keys)
	cancel()
	if l.Clone != nil && r.err == nil {
		for k, n := range r.want {
			if v, ok := r.vals[k]; ok && n > 1 {
				if r.copies == nil {
					r.copies = map[K][]V{}
				}
				for range n - 1 {
					r.copies[k] = append(r.copies[k], l.Clone(v))
				}
			}
		}
	}
	close(r.done)
	l.finish()
}

// finish ends a fetch: the round that filled meanwhile, if any, goes out
// on its in-flight slot; otherwise the slot is freed.
func (l *Loader[K, V]) finish() {
	l.mu.Lock()
	next := l.next
	l.next = nil
	if next == nil {
		l.inFlight--
	}
	l.mu.Unlock()
	if next != nil {
		go l.run(next) // keeps the finished fetch's in-flight slot
	}
}

func (l *Loader[K, V]) timeout() time.Duration {
	if l.Timeout > 0 {
		return l.Timeout
	}
	return 5 * time.Second
}

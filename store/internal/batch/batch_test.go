package batch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counterStore is a key-value table behind a slow "network": a fetch
// reads every key at one moment, after a simulated round trip.
type counterStore struct {
	mu      sync.Mutex
	vals    map[string]int
	fetches atomic.Int64
	keys    atomic.Int64
	rtt     time.Duration
}

func (s *counterStore) fetch(ctx context.Context, keys []string) (map[string]*int, error) {
	s.fetches.Add(1)
	s.keys.Add(int64(len(keys)))
	time.Sleep(s.rtt / 2)
	s.mu.Lock()
	out := map[string]*int{}
	for _, k := range keys {
		if v, ok := s.vals[k]; ok {
			out[k] = &v
		}
	}
	s.mu.Unlock()
	time.Sleep(s.rtt / 2)
	return out, ctx.Err()
}

func (s *counterStore) incr(k string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vals[k]++
	return s.vals[k]
}

func newLoader(s *counterStore) *Loader[string, *int] {
	return &Loader[string, *int]{Fetch: s.fetch, Clone: func(p *int) *int { v := *p; return &v }}
}

func TestLoneLoadGoesAtOnce(t *testing.T) {
	s := &counterStore{vals: map[string]int{"a": 7}}
	l := newLoader(s)
	tests := []struct {
		name   string
		key    string
		want   int
		wantOK bool
	}{
		{"present", "a", 7, true},
		{"absent", "b", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.fetches.Load()
			v, ok, err := l.Load(context.Background(), tt.key)
			if err != nil || ok != tt.wantOK || (ok && *v != tt.want) {
				t.Fatalf("Load(%q) = %v, %v, %v", tt.key, v, ok, err)
			}
			if n := s.fetches.Load() - before; n != 1 {
				t.Fatalf("%d fetches for one Load", n)
			}
		})
	}
}

// TestFreshAndCoalesced: 64 readers and a writer on one key. Every Load
// sees at least the value acknowledged before it began (never a fetch
// that was already on the wire), and the reads share round trips.
func TestFreshAndCoalesced(t *testing.T) {
	s := &counterStore{vals: map[string]int{"k": 0}, rtt: time.Millisecond}
	l := newLoader(s)
	var acked atomic.Int64
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			acked.Store(int64(s.incr("k")))
			time.Sleep(100 * time.Microsecond)
		}
	})
	var loads atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 100 {
				floor := acked.Load()
				v, ok, err := l.Load(context.Background(), "k")
				if err != nil || !ok {
					t.Errorf("Load: %v %v", ok, err)
					return
				}
				if int64(*v) < floor {
					t.Errorf("stale read: %d, but %d was acknowledged before the Load began", *v, floor)
					return
				}
				*v = -1 // a caller may change its copy
				loads.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	writer.Wait()
	f := s.fetches.Load()
	t.Logf("%d loads in %d fetches", loads.Load(), f)
	if f*4 > loads.Load() {
		t.Fatalf("%d fetches for %d concurrent loads: not coalesced", f, loads.Load())
	}
}

// TestCopiesPerCaller: callers of one key in one fetch get their own value.
func TestCopiesPerCaller(t *testing.T) {
	s := &counterStore{vals: map[string]int{"k": 1}, rtt: 5 * time.Millisecond}
	l := newLoader(s)
	got := make([]*int, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i], _, _ = l.Load(context.Background(), "k") })
	}
	wg.Wait()
	seen := map[*int]bool{}
	for _, p := range got {
		if p == nil || seen[p] {
			t.Fatalf("two callers share one value (or none): %v", got)
		}
		seen[p] = true
	}
}

// TestErrorsAndCancellation: a failed fetch fails its callers only; a
// waiter that gives up returns its context's error while the fetch goes
// on for the others.
func TestErrorsAndCancellation(t *testing.T) {
	boom := errors.New("server gone")
	var fail atomic.Bool
	release := make(chan struct{})
	l := &Loader[string, int]{MaxInFlight: 1, Fetch: func(ctx context.Context, keys []string) (map[string]int, error) {
		<-release
		if fail.Load() {
			return nil, boom
		}
		out := map[string]int{}
		for _, k := range keys {
			out[k] = len(k)
		}
		return out, nil
	}}
	first := make(chan error, 1)
	go func() { _, _, err := l.Load(context.Background(), "one"); first <- err }()
	time.Sleep(20 * time.Millisecond) // "one" is on the wire; the next Loads wait
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { _, _, err := l.Load(ctx, "quitter"); gaveUp <- err }()
	stayed := make(chan int, 1)
	go func() { v, _, _ := l.Load(context.Background(), "stayer"); stayed <- v }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled waiter returned %v", err)
	}
	release <- struct{}{} // "one" answers
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	release <- struct{}{} // the round of the quitter and the stayer
	if v := <-stayed; v != len("stayer") {
		t.Fatalf("the remaining waiter got %d", v)
	}
	fail.Store(true)
	go func() { release <- struct{}{} }()
	if _, _, err := l.Load(context.Background(), "x"); !errors.Is(err, boom) {
		t.Fatalf("a failed fetch returned %v", err)
	}
}

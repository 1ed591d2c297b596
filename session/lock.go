package session

import (
	"context"
	"sync"
)

// localLocks are per-record mutexes within this process, for Config.Lock
// when the store is not a Locker. Entries are reference-counted so the map
// holds only records that are locked or waited for.
type localLocks struct {
	mu sync.Mutex
	m  map[string]*lockEntry
}

type lockEntry struct {
	ch      chan struct{} // holds one token while unlocked
	waiters int
}

func (l *localLocks) lock(ctx context.Context, ref string) (func(), error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*lockEntry{}
	}
	e := l.m[ref]
	if e == nil {
		e = &lockEntry{ch: make(chan struct{}, 1)}
		e.ch <- struct{}{}
		l.m[ref] = e
	}
	e.waiters++
	l.mu.Unlock()
	done := func() {
		l.mu.Lock()
		e.waiters--
		if e.waiters == 0 {
			delete(l.m, ref)
		}
		l.mu.Unlock()
	}
	select {
	case <-e.ch:
		var once sync.Once
		return func() {
			once.Do(func() {
				e.ch <- struct{}{}
				done()
			})
		}, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}

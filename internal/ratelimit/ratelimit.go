// Package ratelimit is a keyed token-bucket limiter with bounded memory: one
// bucket per key (a client IP, a user name), so that one noisy client is
// throttled while every other client keeps its own full bucket.
//
// Each bucket holds at most Burst tokens and gains one token every Every; a
// request takes one token or is refused with the time until the next token.
//
// Memory is bounded by MaxKeys: buckets live in an LRU list, and when a new key
// arrives at a full limiter the least recently used bucket is dropped. A
// bucket that has refilled completely carries no information (a fresh bucket
// is identical), so Prune drops those first and eviction usually loses
// nothing. An attacker who cycles through more than MaxKeys distinct keys can
// reset the oldest buckets; size MaxKeys above the number of clients you
// expect to be throttling at once.
//
// A Limiter is safe for concurrent use. Its methods take one mutex for a few
// map and list operations; they never block on I/O.
package ratelimit

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Config describes a limiter. The zero value of a field means its default.
type Config struct {
	// Every is the time to earn one token back. Default: 1s.
	Every time.Duration
	// Burst is the bucket size: how many requests may come at once after a
	// quiet period. Default: 10.
	Burst int
	// MaxKeys bounds how many buckets are kept. Default: 100_000.
	MaxKeys int
	// Now is the clock; tests inject one. Default: time.Now.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultEvery   = time.Second
	DefaultBurst   = 10
	DefaultMaxKeys = 100_000
)

// Limiter is a set of token buckets, one per key.
type Limiter struct {
	every   time.Duration
	burst   int
	maxKeys int
	now     func() time.Time

	mu    sync.Mutex
	keys  map[string]*list.Element // of *bucket
	order *list.List               // front: most recently used
}

// bucket is one key's state in GCRA form (the "generic cell rate
// algorithm", equivalent to a token bucket): tat is the theoretical arrival
// time, when the bucket would be full again. Integer time arithmetic keeps
// Retry-After exact; a float token count would drift.
type bucket struct {
	key string
	tat time.Time
}

// New returns a limiter for cfg, or an error naming the bad field.
func New(cfg Config) (*Limiter, error) {
	var errs []error
	if cfg.Every < 0 {
		errs = append(errs, fmt.Errorf("ratelimit: Every is %v; want a positive duration", cfg.Every))
	}
	if cfg.Burst < 0 {
		errs = append(errs, fmt.Errorf("ratelimit: Burst is %d; want at least 1", cfg.Burst))
	}
	if cfg.MaxKeys < 0 {
		errs = append(errs, fmt.Errorf("ratelimit: MaxKeys is %d; want at least 1", cfg.MaxKeys))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Every == 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if time.Duration(math.MaxInt64)/time.Duration(cfg.Burst) < cfg.Every {
		return nil, fmt.Errorf("ratelimit: Every (%v) times Burst (%d) overflows a time.Duration", cfg.Every, cfg.Burst)
	}
	return &Limiter{
		every:   cfg.Every,
		burst:   cfg.Burst,
		maxKeys: cfg.MaxKeys,
		now:     cfg.Now,
		keys:    make(map[string]*list.Element),
		order:   list.New(),
	}, nil
}

// Allow takes one token from key's bucket and reports whether there was one.
func (l *Limiter) Allow(key string) bool {
	ok, _ := l.Take(key)
	return ok
}

// Take takes one token from key's bucket. When the bucket is empty it takes
// nothing and reports how long until a token is available (a Retry-After).
// A nil *Limiter is "no limit": it allows everything.
func (l *Limiter) Take(key string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.get(key, now)
	next, wait := l.check(b, now)
	if wait > 0 {
		return false, wait
	}
	b.tat = next
	return true, 0
}

// RetryAfter reports how long until key's bucket holds a token, without
// taking one: zero if a request would be allowed now. Use it to refuse early
// (for example, before checking a password) and Take to count the attempt.
func (l *Limiter) RetryAfter(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.keys[key]
	if !ok {
		return 0
	}
	_, wait := l.check(e.Value.(*bucket), l.now())
	return wait
}

// Reset forgets key, giving it a full bucket (for example after a
// successful login).
func (l *Limiter) Reset(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.keys[key]; ok {
		l.order.Remove(e)
		delete(l.keys, key)
	}
}

// Len reports how many buckets are kept.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// Prune drops every bucket that has refilled completely (it is the same as
// no bucket) and reports how many it dropped. Callers may run it
// periodically; eviction on insert keeps memory bounded without it.
func (l *Limiter) Prune() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	n := 0
	for e := l.order.Back(); e != nil; {
		prev := e.Prev()
		if b := e.Value.(*bucket); l.full(b, now) {
			l.order.Remove(e)
			delete(l.keys, b.key)
			n++
		}
		e = prev
	}
	return n
}

// check computes the bucket's state after one more request at now: the new
// theoretical arrival time, and how long the caller must wait first (zero if
// the request fits in the burst).
func (l *Limiter) check(b *bucket, now time.Time) (next time.Time, wait time.Duration) {
	t := b.tat
	if t.Before(now) {
		t = now
	}
	next = t.Add(l.every)
	if over := next.Sub(now) - time.Duration(l.burst)*l.every; over > 0 {
		return next, over
	}
	return next, 0
}

// full reports whether b has no debt left, so dropping it loses nothing.
func (l *Limiter) full(b *bucket, now time.Time) bool { return !b.tat.After(now) }

// get returns key's bucket, creating it (and evicting the least recently
// used bucket if the limiter is full). l.mu is held.
func (l *Limiter) get(key string, now time.Time) *bucket {
	if e, ok := l.keys[key]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*bucket)
	}
	if len(l.keys) >= l.maxKeys {
		l.evict(now)
	}
	b := &bucket{key: key, tat: now}
	l.keys[key] = l.order.PushFront(b)
	return b
}

// evict drops one bucket: a full one among the oldest few if there is one
// (that loses nothing), otherwise the least recently used.
func (l *Limiter) evict(now time.Time) {
	victim := l.order.Back()
	i := 0
	for e := victim; e != nil && i < 8; e, i = e.Prev(), i+1 {
		if l.full(e.Value.(*bucket), now) {
			victim = e
			break
		}
	}
	if victim == nil {
		return
	}
	l.order.Remove(victim)
	delete(l.keys, victim.Value.(*bucket).key)
}

package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sessiond/sessiond/internal/tick"
	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
)

// Lock implements session.Locker: an exclusive lock on a record across
// processes, held in the key <prefix>{ref}:l (the record's slot) with a
// random token, SET NX PX LockTTL. While held, a goroutine renews it every
// LockTTL/3 if the token is still there; a holder that crashes stops
// renewing, so the lock frees itself within LockTTL. A waiter polls with a
// capped, jittered backoff (2 ms doubling to 50 ms) until it gets the lock,
// ctx ends or LockWait passes; then the error wraps session.ErrUnavailable
// (and ctx's error if ctx ended).
//
// unlock is safe to call more than once and from any goroutine; it deletes
// the key only if it still holds this holder's token, so a lock that
// expired and was taken by another holder is never released by mistake.
func (s *Store) Lock(ctx context.Context, ref string) (unlock func(), err error) {
	key, tok := s.lockKey(ref), token.Ref()
	wctx, cancel := context.WithTimeout(ctx, s.wait)
	defer cancel()
	backoff := 2 * time.Millisecond
	for {
		ok, err := s.tryLock(wctx, key, tok)
		if err != nil {
			if wctx.Err() != nil {
				return nil, s.lockTimeout(ctx, wctx)
			}
			return nil, fail("lock", err)
		}
		if ok {
			return s.holding(ref, key, tok), nil
		}
		t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
		select {
		case <-wctx.Done():
			t.Stop()
			return nil, s.lockTimeout(ctx, wctx)
		case <-t.C:
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

func (s *Store) tryLock(ctx context.Context, key, tok string) (bool, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return s.client.SetNX(ctx, key, tok, s.lockTTL).Result()
}

func (s *Store) lockTimeout(ctx, wctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis: lock: %w: %w", session.ErrUnavailable, err)
	}
	return fmt.Errorf("redis: lock: still held by another request after %v: %w: %w", s.wait, session.ErrUnavailable, wctx.Err())
}

// holding starts the renewal and returns the unlock function.
func (s *Store) holding(ref, key, tok string) func() {
	renewing, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick.Every(renewing, s.lockTTL/3, func(time.Time) {
			ctx, cancel := s.opContext(context.Background())
			n, err := scriptRenewIfEq.Run(ctx, s.client, []string{key}, tok, s.lockTTL.Milliseconds()).Int()
			cancel()
			if err == nil && n == 0 {
				s.log.Warn("redis: record lock lost before unlock (expired or taken over)", "ref", ref, "lock_ttl", s.lockTTL)
				stop()
			}
		})
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			stop()
			<-done
			ctx, cancel := s.opContext(context.Background())
			defer cancel()
			if err := scriptDelIfEq.Run(ctx, s.client, []string{key}, tok).Err(); err != nil {
				s.log.Warn("redis: record lock not released; it expires by itself", "ref", ref, "lock_ttl", s.lockTTL, "err", err)
			}
		})
	}
}

package redis_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redis"
)

// testLockExclusion has many goroutines take the same lock and checks no
// two are ever inside at once.
func testLockExclusion(t *testing.T, s *redis.Store) {
	t.Helper()
	ref := token.Ref()
	var inside, overlaps, done atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				unlock, err := s.Lock(context.Background(), ref)
				if err != nil {
					t.Errorf("Lock: %v", err)
					return
				}
				if inside.Add(1) != 1 {
					overlaps.Add(1)
				}
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				done.Add(1)
				unlock()
			}
		})
	}
	wg.Wait()
	if overlaps.Load() != 0 || done.Load() != 40 {
		t.Fatalf("%d overlapping holders, %d of 40 critical sections done", overlaps.Load(), done.Load())
	}
}

func TestLock(t *testing.T) {
	ctx := context.Background()
	lockStore := func(t *testing.T, cfg redis.Config) (*redis.Store, string) {
		t.Helper()
		cfg.Prefix = uniquePrefix()
		cfg.Client = sharedClient(t, cfg.Prefix)
		s, err := redis.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s, cfg.Prefix
	}

	t.Run("Exclusion", func(t *testing.T) {
		s, _ := lockStore(t, redis.Config{})
		testLockExclusion(t, s)
	})

	// A holder that crashed (its key is there, nobody renews it) blocks
	// others for its TTL at most.
	t.Run("CrashedHolderExpires", func(t *testing.T) {
		s, prefix := lockStore(t, redis.Config{})
		ref := token.Ref()
		c := sharedClient(t, prefix)
		must(t, c.Set(ctx, prefix+"{"+ref+"}:l", "token-of-a-dead-process", 300*time.Millisecond).Err())
		start := time.Now()
		unlock, err := s.Lock(ctx, ref)
		if err != nil {
			t.Fatalf("Lock after a crashed holder: %v", err)
		}
		defer unlock()
		if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
			t.Fatalf("Lock took %v; want about the 300ms the dead holder's key had left", took)
		}
	})

	// A live holder renews its lock past LockTTL, so a waiter bounded by
	// LockWait gives up with ErrUnavailable; once released the lock is
	// free at once.
	t.Run("RenewedWhileHeld", func(t *testing.T) {
		s, _ := lockStore(t, redis.Config{LockTTL: 150 * time.Millisecond, LockWait: 600 * time.Millisecond})
		ref := token.Ref()
		unlock, err := s.Lock(ctx, ref)
		must(t, err)
		start := time.Now()
		_, err = s.Lock(ctx, ref)
		if !errors.Is(err, session.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("second Lock while held = %v, want ErrUnavailable (wait exceeded)", err)
		}
		if took := time.Since(start); took < 550*time.Millisecond || took > 2*time.Second {
			t.Fatalf("second Lock gave up after %v, want about LockWait (600ms)", took)
		}
		unlock()
		unlock() // idempotent
		start = time.Now()
		again, err := s.Lock(ctx, ref)
		must(t, err)
		again()
		if took := time.Since(start); took > 100*time.Millisecond {
			t.Fatalf("Lock after unlock took %v", took)
		}
	})

	t.Run("CallerContextEnds", func(t *testing.T) {
		s, _ := lockStore(t, redis.Config{})
		ref := token.Ref()
		unlock, err := s.Lock(ctx, ref)
		must(t, err)
		defer unlock()
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err = s.Lock(cctx, ref)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, session.ErrUnavailable) {
			t.Fatalf("Lock with a cancelled context = %v, want Canceled and ErrUnavailable", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("Lock returned %v after the cancel", took)
		}
	})

	// unlock of a lock that expired and was taken by someone else must
	// not free the new holder's lock.
	t.Run("UnlockOnlyOwnToken", func(t *testing.T) {
		s, prefix := lockStore(t, redis.Config{})
		c := sharedClient(t, prefix)
		ref := token.Ref()
		key := prefix + "{" + ref + "}:l"
		unlockA, err := s.Lock(ctx, ref)
		must(t, err)
		must(t, c.Del(ctx, key).Err()) // A's lock "expired"
		unlockB, err := s.Lock(ctx, ref)
		must(t, err)
		unlockA()
		if n := c.Exists(ctx, key).Val(); n != 1 {
			t.Fatal("a stale holder's unlock released the new holder's lock")
		}
		unlockB()
		if n := c.Exists(ctx, key).Val(); n != 0 {
			t.Fatal("unlock left the lock key behind")
		}
	})
}

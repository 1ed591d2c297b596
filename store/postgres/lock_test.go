package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/postgres"
	"github.com/sessiond/sessiond/store/storetest"
)

// twoStores opens two stores (two pools, like two gateway processes) on
// the same tables.
func twoStores(t *testing.T) (a, b *postgres.Store) {
	t.Helper()
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	return newStore(t, postgres.Config{URL: url, Schema: schema}), newStore(t, postgres.Config{URL: url, Schema: schema})
}

func TestLockExcludesAcrossStores(t *testing.T) {
	a, b := twoStores(t)
	ctx := context.Background()
	unlock, err := a.Lock(ctx, "ref-1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		store   *postgres.Store
		ref     string
		blocked bool
	}{
		{"same ref, other store", b, "ref-1", true},
		{"same ref, same store", a, "ref-1", true},
		{"other ref", b, "ref-2", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			u, err := tc.store.Lock(ctx, tc.ref)
			if err == nil {
				defer u()
			}
			if tc.blocked {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Lock of a held ref = %v, want it to wait until the deadline", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lock of a free ref: %v", err)
			}
		})
	}
	unlock()
	unlock() // idempotent
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u, err := b.Lock(ctx2, "ref-1")
	if err != nil {
		t.Fatalf("Lock after unlock (and after interrupted waits): %v", err)
	}
	u()
}

// TestLockSerialisesReadModifyWrite: writers on two stores load, change
// and write a record under the lock without any retry; had two of them
// ever held it at once, one Update would have hit ErrConflict.
func TestLockSerialisesReadModifyWrite(t *testing.T) {
	a, b := twoStores(t)
	ctx := context.Background()
	r := storetest.NewRecord()
	if err := a.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			unlock, err := s.Lock(ctx, r.Ref)
			if err != nil {
				errs <- err
				return
			}
			defer unlock()
			cur, err := s.Load(ctx, r.ID)
			if err != nil {
				errs <- err
				return
			}
			next := cur.Clone()
			next.Version++
			if err := s.Update(ctx, next, cur.Version); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer under the lock: %v", err)
	}
	if got, err := a.Load(ctx, r.ID); err != nil || got.Version != writers+1 {
		t.Fatalf("Load = version %v, %v; want %d", got.Version, err, writers+1)
	}
}

func TestLockOnClosedStoreFails(t *testing.T) {
	s, err := postgres.New(context.Background(), postgres.Config{URL: testenv.PostgresURL(t), Schema: freshSchema(t, testenv.PostgresURL(t)), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Lock(context.Background(), "x"); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("Lock on a closed store = %v, want ErrUnavailable", err)
	}
}

// TestCloseEndsHeldLocks: a holder that never unlocks does not make Close
// hang, and its lock is released for the other stores.
func TestCloseEndsHeldLocks(t *testing.T) {
	a, b := twoStores(t)
	unlock, err := a.Lock(context.Background(), "forgotten")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { a.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs on a lock that was never unlocked")
	}
	unlock() // after Close: does nothing, must not panic
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u, err := b.Lock(ctx, "forgotten")
	if err != nil {
		t.Fatalf("lock still held after its store closed: %v", err)
	}
	u()
}

package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
)

// ReadsSeeOtherWriters checks that reader — a store that shares round
// trips between concurrent Loads, or caches — never answers from before a
// write that writer (the same backend through other connections, as
// another gateway would) acknowledged before the Load began: 32 readers
// load one record while writer updates it for two seconds; then a delete
// (a revocation) must be seen by the next Load while the readers go on.
func ReadsSeeOtherWriters(t *testing.T, reader, writer session.Store) {
	ctx := context.Background()
	rec := NewRecord()
	if err := writer.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Uint64
	acked.Store(rec.Version)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := acked.Load()
				got, err := reader.Load(ctx, rec.ID)
				if err != nil {
					t.Errorf("Load: %v", err)
					return
				}
				if got.Version < floor {
					t.Errorf("stale load: version %d, but %d was acknowledged before it began", got.Version, floor)
					return
				}
			}
		})
	}
	deadline := time.Now().Add(2 * time.Second)
	cur := rec.Clone()
	for time.Now().Before(deadline) && !t.Failed() {
		next := cur.Clone()
		next.Version++
		next.Data["n"] = time.Now().String()
		if err := writer.Update(ctx, next, cur.Version); err != nil {
			t.Fatalf("Update: %v", err)
		}
		acked.Store(next.Version)
		cur = next
	}
	del := NewRecord()
	if err := writer.Create(ctx, del); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Load(ctx, del.ID); err != nil {
		t.Fatal(err)
	}
	if err := writer.Delete(ctx, del.Ref); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Load(ctx, del.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load after an acknowledged delete: %v, want ErrNotFound", err)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d versions written while 32 readers loaded", cur.Version)
}

package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/postgres"
	"github.com/sessiond/sessiond/store/storetest"
)

// TestBatchedLoadsNeverStale: concurrent Loads share round trips
// (store/internal/batch), and still every Load sees what another store —
// other connections, as another gateway would — had written before the
// Load began: each new version, and at the end the deletion (a
// revocation) while other Loads keep a batch on the wire.
func TestBatchedLoadsNeverStale(t *testing.T) {
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	reader := newStore(t, postgres.Config{URL: url, Schema: schema})
	writer := newStore(t, postgres.Config{URL: url, Schema: schema})
	ctx := context.Background()
	rec := storetest.NewRecord()
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
	// Revocation: once the delete is acknowledged, no Load that begins
	// after it finds the record, while the other readers keep loading.
	del := storetest.NewRecord()
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

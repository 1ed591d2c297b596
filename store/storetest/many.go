package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/sessiond/sessiond/session"
)

// ConcurrentLoadsOfManySessions loads 64 sessions (and IDs never stored)
// from s concurrently, 20 times over, so that a store that batches Loads
// (store/internal/batch) fetches many keys at once: every Load must get
// its own record, and an unknown ID must be not found.
func ConcurrentLoadsOfManySessions(t *testing.T, s session.Store) {
	ctx := context.Background()
	recs := make([]*session.Record, 64)
	for i := range recs {
		recs[i] = NewRecord()
		recs[i].Data["i"] = fmt.Sprint(i)
		if err := s.Create(ctx, recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		var wg sync.WaitGroup
		for i, r := range recs {
			wg.Go(func() {
				if i%8 == 7 {
					if _, err := s.Load(ctx, NewRecord().ID); !errors.Is(err, session.ErrNotFound) {
						t.Errorf("Load of an ID never stored: %v, want ErrNotFound", err)
					}
					return
				}
				got, err := s.Load(ctx, r.ID)
				switch {
				case err != nil:
					t.Errorf("Load %d: %v", i, err)
				case got.Ref != r.Ref || got.Data["i"] != r.Data["i"]:
					t.Errorf("Load %d: got record %s (i=%q), want %s", i, got.Ref, got.Data["i"], r.Ref)
				}
			})
		}
		wg.Wait()
	}
}

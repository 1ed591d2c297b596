package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/postgres"
	"github.com/sessiond/sessiond/store/storetest"
)

// TestStoreDownAndBack runs a PostgreSQL server of its own, takes it away
// under a working Store — shut down, then frozen (connections open, no
// answers) — and checks that every operation fails with ErrUnavailable
// (never ErrNotFound, which would hand out a new empty session) within
// the default per-operation timeout, and that the same Store works again
// once the server is back.
func TestStoreDownAndBack(t *testing.T) {
	srv := startPGServer(t)
	s := newStore(t, postgres.Config{URL: srv.URL}) // default Timeout (2s)
	ctx := context.Background()
	r := storetest.NewRecord()
	r.User = "dora"
	if err := s.Create(ctx, r.Clone()); err != nil {
		t.Fatal(err)
	}
	cur := r.Clone()
	const bound = 3 * time.Second

	outages := []struct {
		name     string
		down, up func()
	}{
		{"shut down", srv.Stop, srv.Start},
		{"frozen", srv.Freeze, srv.Thaw},
	}
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			// Warm the pool so the outage hits open connections too.
			if _, err := s.Load(ctx, r.ID); err != nil {
				t.Fatalf("Load before the outage: %v", err)
			}
			o.down()
			next := cur.Clone()
			next.Version++
			ops := []struct {
				name string
				fn   func() error
			}{
				{"load", func() error { _, err := s.Load(ctx, r.ID); return err }},
				{"update", func() error { return s.Update(ctx, next, cur.Version) }},
				{"create", func() error { return s.Create(ctx, storetest.NewRecord()) }},
				{"delete", func() error { return s.Delete(ctx, "absent") }},
				{"list user", func() error { _, err := s.ListUser(ctx, "dora"); return err }},
				{"gc", func() error { _, err := s.GC(ctx, time.Now()); return err }},
				{"lock", func() error {
					u, err := s.Lock(ctx, r.Ref)
					if err == nil {
						u()
					}
					return err
				}},
			}
			for _, op := range ops {
				t.Run(op.name, func(t *testing.T) {
					start := time.Now()
					err := op.fn()
					took := time.Since(start)
					t.Logf("%v after %v", err, took.Round(time.Millisecond))
					if !errors.Is(err, session.ErrUnavailable) {
						t.Errorf("got %v, want ErrUnavailable", err)
					}
					if errors.Is(err, session.ErrNotFound) {
						t.Errorf("an outage reported as not found: %v", err)
					}
					if took > bound {
						t.Errorf("took %v, want under %v", took, bound)
					}
				})
			}
			o.up()
			back := time.Now()
			// The same Store recovers by itself: the pool drops dead
			// connections and dials again.
			deadline := time.Now().Add(30 * time.Second)
			for {
				got, err := s.Load(ctx, r.ID)
				if err == nil {
					if got.Version != cur.Version {
						t.Fatalf("after the outage: version %d, want %d", got.Version, cur.Version)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Store still failing 30s after the server came back: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err := s.Update(ctx, next, cur.Version); err != nil {
				t.Fatalf("Update after the outage: %v", err)
			}
			t.Logf("working again %v after the server came back", time.Since(back).Round(time.Millisecond))
			cur = next
		})
	}
}

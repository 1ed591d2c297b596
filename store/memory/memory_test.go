package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessiond/sessiond/remember"
	rememberstoretest "github.com/sessiond/sessiond/remember/storetest"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		s := memory.New(memory.Config{SweepInterval: -1})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestSweeperRemovesExpired(t *testing.T) {
	s := memory.New(memory.Config{SweepInterval: 10 * time.Millisecond})
	defer s.Close()
	r := storetest.NewRecord()
	r.Expires = time.Now().Add(20 * time.Millisecond)
	if err := s.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("sweeper did not remove the expired record within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLoadDoesNotAllocate(t *testing.T) {
	s := memory.New(memory.Config{SweepInterval: -1})
	defer s.Close()
	r := storetest.NewRecord()
	if err := s.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { s.Load(ctx, r.ID) }); n != 0 {
		t.Fatalf("Load allocates %v times, want 0", n)
	}
}

func BenchmarkRequests(b *testing.B) {
	s := memory.New(memory.Config{SweepInterval: -1})
	defer s.Close()
	storetest.BenchmarkRequests(b, session.Config{Store: s})
}

func TestStateConformance(t *testing.T) {
	storetest.State(t, func(t *testing.T) func(t *testing.T) storetest.StateStore {
		s := memory.New(memory.Config{SweepInterval: -1})
		t.Cleanup(func() { s.Close() })
		return func(*testing.T) storetest.StateStore { return s }
	})
}

func TestRememberConformance(t *testing.T) {
	rememberstoretest.Run(t, func(t *testing.T) remember.Store {
		r, _ := memory.New(memory.Config{SweepInterval: -1}).Remember(context.Background())
		return r
	})
}

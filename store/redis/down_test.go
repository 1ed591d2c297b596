package redis_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/storetest"
)

// bound is how fast an operation on a dead or hung server must fail
// (the gateway answers a clear 503, never hangs).
const bound = 2 * time.Second

// mustFailFast runs op and checks it fails with session.ErrUnavailable
// within bound.
func mustFailFast(t *testing.T, name string, op func() error) {
	t.Helper()
	start := time.Now()
	err := op()
	took := time.Since(start)
	if !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("%s with the server down = %v, want ErrUnavailable", name, err)
	}
	if took >= bound {
		t.Errorf("%s took %v to fail, want < %v", name, took, bound)
	}
	t.Logf("%s failed in %v: %v", name, took.Round(time.Millisecond), err)
}

// exercise runs every operation that needs the server and checks each
// fails fast with ErrUnavailable.
func exercise(t *testing.T, s *redis.Store, rec *session.Record) {
	t.Helper()
	ctx := context.Background()
	mustFailFast(t, "Load", func() error { _, err := s.Load(ctx, rec.ID); return err })
	mustFailFast(t, "Update", func() error {
		n := rec.Clone()
		n.Version = rec.Version + 1
		return s.Update(ctx, n, rec.Version)
	})
	mustFailFast(t, "Create", func() error { return s.Create(ctx, storetest.NewRecord()) })
	mustFailFast(t, "Delete", func() error { return s.Delete(ctx, rec.Ref) })
	mustFailFast(t, "ListUser", func() error { _, err := s.ListUser(ctx, "down-user"); return err })
	mustFailFast(t, "GC", func() error { _, err := s.GC(ctx, time.Now()); return err })
	mustFailFast(t, "Lock", func() error { _, err := s.Lock(ctx, rec.Ref); return err })
}

// works checks the store serves again: a new session round-trips.
func works(t *testing.T, s *redis.Store) {
	t.Helper()
	ctx := context.Background()
	r := storetest.NewRecord()
	if err := s.Create(ctx, r); err != nil {
		t.Fatalf("Create after the server came back: %v", err)
	}
	n := r.Clone()
	n.Version = 2
	if err := s.Update(ctx, n, 1); err != nil {
		t.Fatalf("Update after the server came back: %v", err)
	}
	if got, err := s.Load(ctx, r.ID); err != nil || got.Version != 2 {
		t.Fatalf("Load after the server came back = %v, %v", got, err)
	}
}

// TestServerKilled kills the store's redis-server (SIGKILL), checks every
// operation fails fast with ErrUnavailable (never not-found, never a
// hang), restarts redis-server on the same port and checks the same Store
// serves again.
func TestServerKilled(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(addr string) redis.Config
	}{
		{"URL defaults", func(addr string) redis.Config { return redis.Config{URL: "redis://" + addr} }},
		{"caller cluster-protocol client", func(addr string) redis.Config {
			c := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { c.Close() })
			return redis.Config{Client: c, Cluster: true, Timeout: 500 * time.Millisecond}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, testenv.FreePort(t))
			s, err := redis.New(tc.cfg(srv.addr()))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			rec := storetest.NewRecord()
			rec.User = "down-user"
			must(t, s.Create(ctx, rec))
			if _, err := s.Load(ctx, rec.ID); err != nil {
				t.Fatal(err)
			}

			srv.kill()
			exercise(t, s, rec)

			srv.start()
			// The server kept nothing (no persistence): the old session is
			// not found — an answer, not a failure — and new ones work.
			if _, err := s.Load(ctx, rec.ID); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Load of a session lost with the server = %v, want ErrNotFound", err)
			}
			works(t, s)
		})
	}
}

// TestServerHung freezes redis-server (SIGSTOP: the kernel still accepts
// connections, nothing answers). Config.Timeout must bound every
// operation, both for a client the store made from a URL and for a
// caller's client whose own socket timeouts are the go-redis defaults
// (5 s); after SIGCONT the same Store serves again.
func TestServerHung(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(addr string) redis.Config
	}{
		{"URL defaults", func(addr string) redis.Config {
			return redis.Config{URL: "redis://" + addr}
		}},
		{"caller client, Timeout 300ms", func(addr string) redis.Config {
			c := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { c.Close() })
			return redis.Config{Client: c, Timeout: 300 * time.Millisecond}
		}},
		{"caller cluster-protocol client", func(addr string) redis.Config {
			c := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { c.Close() })
			return redis.Config{Client: c, Cluster: true, Timeout: 300 * time.Millisecond}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, testenv.FreePort(t))
			s, err := redis.New(tc.cfg(srv.addr()))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rec := storetest.NewRecord()
			must(t, s.Create(context.Background(), rec))

			srv.freeze(true)
			exercise(t, s, rec)
			srv.freeze(false)

			deadline := time.Now().Add(5 * time.Second)
			for {
				_, err := s.Load(context.Background(), rec.ID)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Load still failing 5s after SIGCONT: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			works(t, s)
		})
	}
}

// TestCallerDeadline checks a caller's deadline shorter than
// Config.Timeout wins, and the error says both what and why.
func TestCallerDeadline(t *testing.T) {
	srv := newServer(t, testenv.FreePort(t))
	s, err := redis.New(redis.Config{URL: "redis://" + srv.addr(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := storetest.NewRecord()
	must(t, s.Create(context.Background(), rec))
	srv.freeze(true)
	defer srv.freeze(false)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Load(ctx, rec.ID)
	if took := time.Since(start); took > time.Second {
		t.Errorf("Load took %v under a 100ms caller deadline", took)
	}
	if !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("Load = %v, want ErrUnavailable", err)
	}
	if msg := fmt.Sprint(err); msg == session.ErrUnavailable.Error() {
		t.Fatalf("error %q does not say what failed", msg)
	}
}

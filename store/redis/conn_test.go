package redis_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/storetest"
)

// TestClosedConnectionsNotSeen closes every connection of a store made
// from a URL, as an operator (CLIENT KILL: the server closes them) or a
// proxy's failover (a reset) would, at once after they were used and after
// they sat idle, and checks every request after that succeeds: the pool
// skips its per-command check of connections in recent use (conn.go), so
// the first command on a closed connection must be retried and the other
// closed connections checked again, instead of failing a request each.
func TestClosedConnectionsNotSeen(t *testing.T) {
	srv := newServer(t, testenv.FreePort(t))
	px := newResetProxy(t, srv.addr())
	ctx := context.Background()
	admin := goredis.NewClient(&goredis.Options{Addr: srv.addr(), PoolSize: 1})
	defer admin.Close()
	s, err := redis.New(redis.Config{URL: "redis://" + px.addr() + "/0?pool_size=8"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := storetest.NewRecord()
	must(t, s.Create(ctx, rec))

	kill := func(t *testing.T) int {
		n, err := admin.ClientKillByFilter(ctx, "TYPE", "normal", "SKIPME", "yes").Result()
		must(t, err)
		return int(n)
	}
	for _, tc := range []struct {
		name  string
		close func(t *testing.T) int // closes the store's connections, returns how many
		idle  time.Duration          // between the close and the next request
	}{
		{"killed, at once", kill, 0},
		{"reset, at once", func(*testing.T) int { return px.reset() }, 0},
		{"killed, after 1ms", kill, time.Millisecond},
		{"reset, after 1ms", func(*testing.T) int { return px.reset() }, time.Millisecond},
		{"killed, after idling", kill, 300 * time.Millisecond},
		{"reset, after idling", func(*testing.T) int { return px.reset() }, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Open several connections: concurrent writes while the
			// server holds every command for a moment (concurrent loads
			// would share one command). The store uses at most 3/4 of
			// the pool's 8.
			must(t, admin.Do(ctx, "CLIENT", "PAUSE", "100", "ALL").Err())
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					if err := s.Create(ctx, storetest.NewRecord()); err != nil {
						t.Errorf("Create before the close: %v", err)
					}
				})
			}
			wg.Wait()
			closed := tc.close(t)
			if closed < 4 {
				t.Fatalf("closed %d connections, want at least 4", closed)
			}
			time.Sleep(tc.idle)
			// One request at a time first (each takes the pool's most
			// recently used connection), then concurrent ones.
			for i := range 10 {
				got, err := s.Load(ctx, rec.ID)
				if err != nil || got.Version != rec.Version {
					t.Fatalf("Load %d after %d connections were closed = %v, %v", i, closed, got, err)
				}
			}
			n := rec.Clone()
			n.Version = rec.Version + 1
			n.Data = map[string]string{"after": tc.name}
			if err := s.Update(ctx, n, rec.Version); err != nil {
				t.Fatalf("Update after the close: %v", err)
			}
			rec = n
			for range 8 {
				wg.Go(func() {
					if got, err := s.Load(ctx, rec.ID); err != nil || got.Version != rec.Version {
						t.Errorf("concurrent Load after the close = %v, %v", got, err)
					}
				})
			}
			wg.Wait()
		})
	}
}

// resetProxy forwards loopback TCP connections to a server; reset ends
// every one of them with a reset (RST), as a failing proxy or peer would.
type resetProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []*net.TCPConn
}

func newResetProxy(t *testing.T, target string) *resetProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &resetProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.reset() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c.(*net.TCPConn), up.(*net.TCPConn))
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *resetProxy) addr() string { return p.ln.Addr().String() }

// reset closes every forwarded connection with a reset; it returns how
// many client connections it ended.
func (p *resetProxy) reset() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.SetLinger(0)
		c.Close()
	}
	n := len(p.conns) / 2
	p.conns = nil
	return n
}

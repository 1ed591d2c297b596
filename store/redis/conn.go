package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// probeIdle is how long a connection must have been idle before go-redis's
// pool checks it is still open when handing it out.
//
// go-redis checks every pooled connection before each command: a
// non-blocking MSG_PEEK read that finds a connection the server closed
// (idle timeout, restart, CLIENT KILL, a proxy's failover) before a command
// is sent on it. That is a system call per command beside the command's own
// write and read, a measurable part of a request's cost (BENCHMARKS.md).
// A connection that read less than probeIdle ago is handed out
// without it. Redis closes idle clients only after whole seconds, so what
// escapes is a connection closed within probeIdle of its last use: the
// command then fails on the closed socket before a server read it (the
// write fails, or the read finds the end of the stream), which go-redis
// retries on another connection (MaxRetries), and every other connection
// of the client is checked again at its next use, so the retry and the
// requests after it get open connections (TestClosedConnectionsNotSeen).
const probeIdle = 100 * time.Millisecond

// epoch is the origin of the connections' monotonic clock.
var epoch = time.Now()

func monotonic() int64 { return int64(time.Since(epoch)) }

// conns is what the connections of one client share: when one of them
// last found its server gone.
type conns struct {
	lost atomic.Int64 // monotonic() when a connection last failed as closed
}

// dialer wraps dial's plain (TCP or Unix socket) connections so the pool's
// check skips connections in recent use. TLS connections are returned as
// they are: go-redis does not check them.
func dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	set := &conns{}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		sc, ok := c.(syscall.Conn)
		if !ok {
			return c, nil
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return c, nil
		}
		t := &trackedConn{Conn: c, raw: raw, set: set}
		t.lastRead.Store(monotonic())
		return t, nil
	}
}

// withDialer installs dialer on o, over go-redis's own dialer for o.
func withDialer(o *goredis.Options) {
	o.Dialer = dialer(goredis.NewDialer(o))
}

// withClusterDialer installs dialer on a Cluster's options (one per client:
// a closed connection makes every node's connections be checked again).
func withClusterDialer(o *goredis.ClusterOptions) {
	o.Dialer = dialer(goredis.NewDialer(&goredis.Options{DialTimeout: o.DialTimeout, TLSConfig: o.TLSConfig}))
}

// trackedConn is a plain connection that remembers when it last read.
// go-redis uses a connection from one goroutine at a time; the fields are
// atomic because the pool's check may run on another.
type trackedConn struct {
	net.Conn
	raw      syscall.RawConn
	set      *conns
	lastRead atomic.Int64 // monotonic() at the end of the last successful Read
}

func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		return n, c.failed(err)
	}
	c.lastRead.Store(monotonic())
	return n, nil
}

func (c *trackedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil {
		return n, c.failed(err)
	}
	return n, nil
}

// failed notes a connection found closed, so that the client's other
// connections are checked again.
func (c *trackedConn) failed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		c.set.lost.Store(monotonic())
	}
	return err
}

// skip reports whether the pool's check may skip c: it read less than
// probeIdle ago, and no connection of its client has failed as closed
// since.
func (c *trackedConn) skip() bool {
	last := c.lastRead.Load()
	now := monotonic()
	return now-last < int64(probeIdle) && last > c.set.lost.Load()
}

// SyscallConn gives the pool's check a RawConn whose Read skips the probe
// while c is in recent use.
func (c *trackedConn) SyscallConn() (syscall.RawConn, error) { return recentRaw{c}, nil }

type recentRaw struct{ c *trackedConn }

func (r recentRaw) Control(f func(fd uintptr)) error    { return r.c.raw.Control(f) }
func (r recentRaw) Write(f func(fd uintptr) bool) error { return r.c.raw.Write(f) }

// Read runs f (the pool's probe) unless c may skip it; skipped, the check
// finds nothing wrong.
func (r recentRaw) Read(f func(fd uintptr) bool) error {
	if r.c.skip() {
		return nil
	}
	return r.c.raw.Read(f)
}

// urlOptions are the go-redis options, common to a single server and a
// cluster, that a client made from a URL gets unless the URL sets them.
type urlOptions struct {
	contextTimeout             *bool
	protocol                   *int
	dial, read, write, poolTmo *time.Duration
	maxRetries                 *int
}

func (u urlOptions) apply(raw string) {
	*u.contextTimeout = true
	if !strings.Contains(raw, "protocol=") {
		// RESP2: the store uses no RESP3 feature, and go-redis checks a
		// RESP3 connection for pending push notifications before every reply.
		*u.protocol = 2
	}
	*u.dial = orDefault(*u.dial, urlDialTimeout)
	*u.read = orDefault(*u.read, urlIOTimeout)
	*u.write = orDefault(*u.write, urlIOTimeout)
	*u.poolTmo = orDefault(*u.poolTmo, urlPoolTimeout)
	if *u.maxRetries == 0 {
		*u.maxRetries = urlMaxRetries
	}
}

func clientFromURL(raw string, cluster bool) (goredis.UniversalClient, error) {
	if cluster {
		o, err := goredis.ParseClusterURL(raw)
		if err != nil {
			return nil, fmt.Errorf("redis: Config.URL: %w", err)
		}
		urlOptions{&o.ContextTimeoutEnabled, &o.Protocol, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout,
			&o.PoolTimeout, &o.MaxRetries}.apply(raw)
		if o.DialerRetries == 0 {
			o.DialerRetries = urlDialAttempts
		}
		withClusterDialer(o)
		return goredis.NewClusterClient(o), nil
	}
	o, err := goredis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("redis: Config.URL: %w", err)
	}
	urlOptions{&o.ContextTimeoutEnabled, &o.Protocol, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout,
		&o.PoolTimeout, &o.MaxRetries}.apply(raw)
	o.DialerRetries = urlDialAttempts
	withDialer(o)
	return goredis.NewClient(o), nil
}

func orDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

package upstream

import (
	"net"
	"sync"
	"time"
)

// conn is a connection to a backend as the Transport's dialer returns
// it. It knows, for the exchange the connection was last handed to,
// whether any byte of the request has been written, and it holds the
// request's first write until the Transport's reader is waiting on the
// connection: by then the reader has either found bytes left over from
// the previous response (and taken them for the new request's response
// before the request went out, which the exchange sees as out of step),
// or found none.
type conn struct {
	net.Conn

	mu      sync.Mutex
	reading int           // Reads in progress: the reader wants bytes it has not got
	fresh   bool          // handed to a request whose first write has not happened
	written bool          // a byte of the current request was written
	broken  bool          // out of step: every further Read and Write fails
	wake    chan struct{} // a Read started (capacity 1)
}

func newConn(nc net.Conn) *conn {
	return &conn{Conn: nc, wake: make(chan struct{}, 1)}
}

// begin marks the connection as handed to a new request (httptrace's
// GotConn, before the request is written).
func (c *conn) begin() {
	c.mu.Lock()
	c.fresh, c.written = true, false
	c.mu.Unlock()
}

// answered is called when a response's first byte was read
// (GotFirstResponseByte, on the Transport's reader). It reports whether
// the current request had been written; if not, the connection is out of
// step and is closed.
func (c *conn) answered() bool {
	c.mu.Lock()
	ok := c.written
	if !ok {
		c.broken = true
	}
	c.mu.Unlock()
	if !ok {
		c.Conn.Close()
	}
	return ok
}

func (c *conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if c.broken {
		c.mu.Unlock()
		return 0, ErrDesync
	}
	c.reading++
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.reading--
	c.mu.Unlock()
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	c.mu.Lock()
	fresh := c.fresh
	c.fresh = false
	c.mu.Unlock()
	if fresh {
		c.awaitReader() // the request's first bytes: see conn
	}
	c.mu.Lock()
	if c.broken {
		c.mu.Unlock()
		return 0, ErrDesync
	}
	c.written = true
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// awaitReader returns once a Read is waiting on the connection, the
// connection is out of step, or readerWait has passed.
func (c *conn) awaitReader() {
	var timer *time.Timer
	for {
		c.mu.Lock()
		ready := c.reading > 0 || c.broken
		c.mu.Unlock()
		if ready {
			return
		}
		if timer == nil {
			timer = time.NewTimer(readerWait)
			defer timer.Stop()
		}
		select {
		case <-c.wake:
		case <-timer.C:
			return
		}
	}
}

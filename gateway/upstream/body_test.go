package upstream

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// pipeListener hands the server ends of net.Pipe connections to an
// http.Server, so that a test in a synctest bubble runs a real server
// on the bubble's clock (pipe deadlines are timers of the bubble).
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial connects a client to the server.
func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// bodyOutcome is what the handler saw of one request body.
type bodyOutcome struct {
	read     int64
	took     time.Duration // from the handler's start to the body's end
	timedOut bool
	ctxErr   error // the request's context a minute after the body: nil if the connection lived on
}

// TestBodyMinRate sends bodies at fixed rates through a real http.Server
// on synctest's clock and checks when limitBody cuts them: a client
// trickling a byte a second is cut at request_body plus its bytes' worth
// of min-rate seconds (Apache's body=20,MinRate=500), an upload slower
// than the minimum rate is cut once its average falls behind, one at the
// minimum rate or faster passes however long it takes, and min rate 0
// bounds the whole body. A body read to its end lifts the deadline: the
// connection stays usable for a long response.
func TestBodyMinRate(t *testing.T) {
	defaults := BodyLimit{Initial: 20 * time.Second, MinRate: 500} // Apache's default, and the gateway's
	fixed := defaults
	fixed.MinRate = 0
	tests := []struct {
		name     string
		timeouts BodyLimit
		chunk    int           // bytes sent every second
		size     int           // Content-Length
		cutAfter time.Duration // 0: the body passes whole
	}{
		// 21 bytes by t=20s (one at 0s, ..., one at 20s): 20s + 21×2ms.
		{"a byte a second is cut after 20s", defaults, 1, 1000, 20*time.Second + 42*time.Millisecond},
		// 67 chunks by t=66s: 20s + 67×350/500 s.
		{"350 B/s falls behind 500 B/s at 66.9s", defaults, 350, 100_000, 66*time.Second + 900*time.Millisecond},
		{"500 B/s passes after 200s", defaults, 500, 100_000, 0},
		{"64 KiB/s passes a 16 MiB upload", defaults, 64 << 10, 16 << 20, 0},
		{"min rate 0: request_body bounds the whole body", fixed, 64 << 10, 16 << 20, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				got := make(chan bodyOutcome, 1)
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					start := time.Now()
					r = LimitBody(w, r, tt.timeouts)
					n, _ := io.Copy(io.Discard, r.Body)
					o := bodyOutcome{read: n, took: time.Since(start), timedOut: BodyTimedOut(r)}
					if o.timedOut {
						w.Header().Set("Connection", "close")
						w.WriteHeader(http.StatusRequestTimeout)
						got <- o
						return
					}
					time.Sleep(time.Minute) // a long response: the body's deadline must not end it
					o.ctxErr = r.Context().Err()
					got <- o
				})}
				l := newPipeListener()
				go srv.Serve(l)
				defer srv.Close()

				conn := l.dial()
				defer conn.Close()
				status := make(chan int, 1)
				go func() {
					resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
					if err != nil {
						status <- 0
						return
					}
					status <- resp.StatusCode
				}()
				fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", tt.size)
				chunk := make([]byte, tt.chunk)
				for sent := 0; sent < tt.size; sent += len(chunk) {
					chunk = chunk[:min(len(chunk), tt.size-sent)]
					if _, err := conn.Write(chunk); err != nil {
						break // cut: the server closed the connection
					}
					if sent+len(chunk) < tt.size {
						time.Sleep(time.Second)
					}
				}
				o := <-got
				code := <-status
				if tt.cutAfter == 0 {
					if o.timedOut || o.read != int64(tt.size) || code != http.StatusOK || o.ctxErr != nil {
						t.Errorf("read %d of %d bytes in %v, timed out %v, status %d, context after the body %v; want the whole body, 200 and a live connection",
							o.read, tt.size, o.took, o.timedOut, code, o.ctxErr)
					}
					return
				}
				if !o.timedOut || code != http.StatusRequestTimeout || o.took != tt.cutAfter {
					t.Errorf("body cut %v after %v (%d of %d bytes), status %d; want 408 after %v",
						o.timedOut, o.took, o.read, tt.size, code, tt.cutAfter)
				}
			})
		})
	}
}

// TestBodyAllowanceDeadline: the deadline arithmetic holds for bodies
// far beyond what read*time.Second can hold.
func TestBodyAllowanceDeadline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		a     BodyLimit
		read  int64
		after time.Duration
	}{
		{"nothing read", BodyLimit{20 * time.Second, 500}, 0, 20 * time.Second},
		{"250 bytes: half a second", BodyLimit{20 * time.Second, 500}, 250, 20*time.Second + 500*time.Millisecond},
		{"rate 0: no extension", BodyLimit{20 * time.Second, 0}, 1 << 20, 20 * time.Second},
		{"100 GB at 500 B/s", BodyLimit{20 * time.Second, 500}, 100e9, 20*time.Second + 200e6*time.Second},
		{"the largest rate", BodyLimit{time.Second, 1 << 30}, 3<<30 + 1<<29, time.Second + 3500*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.deadline(start, tt.read).Sub(start); got != tt.after {
				t.Errorf("deadline after %d bytes = start+%v, want start+%v", tt.read, got, tt.after)
			}
		})
	}
}

// Package testkit holds the small fakes the module's tests share: an
// auditor that records events, a clock the test advances, a log buffer
// safe for concurrent writers and a WebSocket echo backend. Each is safe
// for concurrent use, because the code under test calls them from server
// goroutines while the test reads them.
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/sessiond/sessiond/session"
)

// Auditor is a session.Auditor that keeps every event it is given.
type Auditor struct {
	mu     sync.Mutex
	events []session.Event
}

// Audit records e.
func (a *Auditor) Audit(_ context.Context, e session.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

// Events returns a copy of the events recorded so far, oldest first.
func (a *Auditor) Events() []session.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.events)
}

// Types returns the type of every recorded event, oldest first.
func (a *Auditor) Types() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.events))
	for _, e := range a.events {
		out = append(out, e.Type)
	}
	return out
}

// Count returns how many events of type typ were recorded.
func (a *Auditor) Count(typ string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, e := range a.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// Last returns the most recent event of type typ.
func (a *Auditor) Last(typ string) (session.Event, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.events) - 1; i >= 0; i-- {
		if a.events[i].Type == typ {
			return a.events[i], true
		}
	}
	return session.Event{}, false
}

// Clock is a time source the test moves by hand; pass its Now method
// where a config takes a func() time.Time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads start until moved.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Buffer is a bytes.Buffer that a logger (or a child process's output)
// and the test may use at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written since the last Reset.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Reset discards everything written so far.
func (b *Buffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}

// WebSocketEcho is a backend handler for upgrade tests: it takes over the
// connection, answers 101 Switching Protocols, reads one line and writes
// it back prefixed with "echo: ". It speaks no WebSocket framing; the
// tests check that the upgraded connection carries bytes both ways.
func WebSocketEcho(w http.ResponseWriter, r *http.Request) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	fmt.Fprint(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	rw.Flush()
	msg, _ := rw.ReadString('\n')
	fmt.Fprint(rw, "echo: "+msg)
	rw.Flush()
}

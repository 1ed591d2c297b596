package session_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
)

// TestExpiredReplayThrottled: a browser presents an expired ID once (its
// cookie is cleared); a client replaying it counts against the unknown-ID
// limit like an unknown ID, so it cannot write an audit line per request.
func TestExpiredReplayThrottled(t *testing.T) {
	const limit = 3
	h := newHarness(t, session.Config{IdleTimeout: 10 * time.Minute, UnknownIDLimit: limit}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=cart&v=1", nil)
	old := h.sid(c)
	h.clock.Advance(11 * time.Minute)
	rc := h.rawClient()
	for i := range limit + 2 {
		code, body, _ := h.do(rc, "GET", "/get?k=cart", cookieHeader("__Host-sid", old))
		switch {
		case i < limit && (code != http.StatusOK || body != ""):
			t.Fatalf("replay %d: %d %q; want 200 and no session", i, code, body)
		case i >= limit && code != http.StatusTooManyRequests:
			t.Fatalf("replay %d past the limit: %d; want 429", i, code)
		}
	}
	if n := h.auditor().Count("session.expired"); n != limit {
		t.Fatalf("%d session.expired events for %d replays, want %d (one per request under the limit)", n, limit+2, limit)
	}
	if n := h.auditor().Count("session.id_bruteforce"); n != 1 {
		t.Fatalf("%d session.id_bruteforce events, want 1", n)
	}
}

package session_test

import (
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
)

// TestMaxAgeCountsFromLastChange pins the documented MaxAge rule: a change
// of the data restarts it; requests that only read (and touch "last seen")
// do not. Apache's SessionMaxAge slides on every request; sessiond's does
// not (IdleTimeout is the sliding limit).
func TestMaxAgeCountsFromLastChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write bool // change the data after 15 minutes
		alive bool // still alive 10 minutes later (25 after the first save)
	}{
		{"read and touch only", false, false},
		{"changed after 15m", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, session.Config{IdleTimeout: -1, AbsoluteTimeout: -1, RotateEvery: -1, MaxAge: 20 * time.Minute}, nil)
			c := h.client()
			h.do(c, "POST", "/set?k=a&v=1", nil)
			h.clock.Advance(15 * time.Minute)
			before := h.store.writes()
			if tc.write {
				h.do(c, "POST", "/set?k=b&v=2", nil)
			} else {
				h.do(c, "GET", "/get?k=a", nil)
			}
			if h.store.writes() == before {
				t.Fatal("the request after 15 minutes wrote nothing (no touch, no change): the test proves nothing")
			}
			h.clock.Advance(10 * time.Minute)
			_, got, _ := h.do(c, "GET", "/get?k=a", nil)
			if alive := got == "1"; alive != tc.alive {
				t.Fatalf("alive 25m after the first save = %v, want %v", alive, tc.alive)
			}
		})
	}
}

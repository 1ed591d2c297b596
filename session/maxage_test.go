package session_test

import (
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
)

// TestMaxAgeRestartsOnEverySave pins the documented MaxAge rule: every
// save restarts it — a change of the data, and the "last seen" touch of a
// request that only reads — as Apache's SessionMaxAge slides with every
// save; a request within the touch interval writes nothing and restarts
// nothing. On a server store (the record's Expires) and on the cookie
// store (the sealed record the touch re-issues), with an injected clock.
func TestMaxAgeRestartsOnEverySave(t *testing.T) {
	cfg := session.Config{IdleTimeout: -1, AbsoluteTimeout: -1, RotateEvery: -1, MaxAge: 20 * time.Minute,
		TouchInterval: 5 * time.Minute}
	stores := []struct {
		name string
		new  func(t *testing.T) *harness
	}{
		{"memory", func(t *testing.T) *harness { return newHarness(t, cfg, nil) }},
		{"cookie", func(t *testing.T) *harness {
			clk := testkit.NewClock(time.Now())
			codec, err := cookie.New(cookie.Config{Keys: [][]byte{cookie.GenerateKey()},
				Revocations: cookie.NewMemoryRevocations(), Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			c := cfg
			c.Codec, c.Now = codec, clk.Now
			h := newHarness(t, c, nil)
			h.clock = clk
			return h
		}},
	}
	for _, st := range stores {
		for _, tc := range []struct {
			name  string
			after time.Duration // the second request, after the first save
			write bool          // the second request changes the data
			alive bool          // still alive 25 minutes after the first save
		}{
			{"read and touch", 15 * time.Minute, false, true},
			{"changed", 15 * time.Minute, true, true},
			{"read within the touch interval", 4 * time.Minute, false, false},
		} {
			t.Run(st.name+"/"+tc.name, func(t *testing.T) {
				h := st.new(t)
				c := h.client()
				h.do(c, "POST", "/set?k=a&v=1", nil)
				first := h.sid(c)
				h.clock.Advance(tc.after)
				var resp string
				if tc.write {
					h.do(c, "POST", "/set?k=b&v=2", nil)
				} else {
					_, resp, _ = h.do(c, "GET", "/get?k=a", nil)
					if resp != "1" {
						t.Fatalf("setup: the session ended before the second request")
					}
				}
				if st.name == "cookie" {
					if reissued := h.sid(c) != first; reissued != (tc.write || tc.after >= cfg.TouchInterval) {
						t.Fatalf("cookie re-issued = %v after %v (write %v)", reissued, tc.after, tc.write)
					}
				}
				h.clock.Advance(25*time.Minute - tc.after)
				_, got, _ := h.do(c, "GET", "/get?k=a", nil)
				if alive := got == "1"; alive != tc.alive {
					t.Fatalf("alive 25m after the first save = %v, want %v", alive, tc.alive)
				}
			})
		}
	}
}

package storetest

import (
	"net/http"
	"testing"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
)

// StaleLogoutAfterLogin is the logout form of StaleWriteAfterLogin (a
// passive sniffer must not be able to log users out): a request A
// that loaded the victim's anonymous session (its ID sniffed in mixed mode,
// or planted) is held while the victim logs in (B), then A calls Logout or
// Destroy. The pre-login view must not delete the signed-in record: A's
// end is refused server-side (audited session.stale_logout_refused) and the
// victim stays signed in with their data. Controls: a logout held across a
// soft regeneration (same user) still ends the session, and so does one by
// the signed-in ID, and one of an anonymous session nobody signed in.
func StaleLogoutAfterLogin(t *testing.T, store session.Store) {
	for _, tc := range []struct {
		name   string
		signed bool   // alice signs in before A
		a      string // the slow request
		b      string // what happens while it is held ("": nothing)
		times  int    // how many times (0: once)
		killed bool   // the session is gone afterwards
		events int    // session.stale_logout_refused events
	}{
		{"logout across a login", false, "/logout?", "/login?u=alice", 0, false, 1},
		{"destroy across a login", false, "/logout?how=destroy", "/login?u=alice", 0, false, 1},
		{"logout across a regeneration", false, "/logout?", "/regenerate", 0, true, 0},
		{"logout of an anonymous session", false, "/logout?", "", 0, true, 0},
		// A's ID is rotated away past the alias limit while it runs: its
		// logout still finds the signed-in session (by its user) and ends it.
		{"signed-in logout across many regenerations", true, "/logout?", "/regenerate", 70, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, store)
			sid := s.newSession()
			if tc.signed {
				if sid = s.do("POST", "/login?u=alice", sid).sid; sid == "" {
					t.Fatal("setup: the login set no cookie")
				}
			}
			done, release := s.startHeld("POST", tc.a+"&hold=a", sid) // A has loaded the anonymous session
			cur := sid
			for i := 0; tc.b != "" && i < max(tc.times, 1); i++ {
				b := s.do("POST", tc.b, cur)
				if b.status != http.StatusOK || b.sid == "" {
					t.Fatalf("B: %d, cookie %v", b.status, b.sid != "")
				}
				cur = b.sid
			}
			if tc.times > 0 {
				if _, err := store.Load(t.Context(), mustParse(t, sid)); err == nil {
					t.Fatal("setup: A's ID still names the session; rotate it away further")
				}
			}
			release()
			if a := <-done; a.status != http.StatusOK {
				t.Fatalf("A: %d %s", a.status, a.body)
			}
			rec, err := store.Load(t.Context(), mustParse(t, cur))
			if tc.killed {
				if err == nil {
					t.Fatalf("the session survived A's logout: user %q, data %v", rec.User, rec.Data)
				}
			} else {
				if err != nil {
					t.Fatalf("the victim's signed-in session after A's logout: %v (signed out by a pre-login view)", err)
				}
				who := s.do("GET", "/whoami", cur).body
				if who != "alice" || rec.User != "alice" || rec.Data["cart"] != "1" {
					t.Fatalf("the signed-in session after A: user %q (stored %q), data %v; want alice, cart=1", who, rec.User, rec.Data)
				}
			}
			if n := s.events.Count("session.stale_logout_refused"); n != tc.events {
				t.Errorf("%d session.stale_logout_refused events, want %d", n, tc.events)
			}
		})
	}
}

func mustParse(t *testing.T, sid string) session.Hash {
	t.Helper()
	h, ok := token.Parse(sid)
	if !ok {
		t.Fatalf("malformed session ID")
	}
	return h
}

package storetest

import (
	"net/http"
	"testing"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
)

// StaleWriteAfterLogin is an attack on session fixation's last door: the
// attacker knows the victim's anonymous session ID (planted, or sniffed
// in mixed mode) and starts a slow request A with it; the victim logs in
// (B), which regenerates the ID; then A writes. A change set built on the
// pre-login version must not reach the signed-in record (session.Merger
// rule 4, then the Manager): A is answered 409 (session.ErrIdentityChanged)
// with no cookie — neither the signed-in session nor a new empty one — and
// audited; the victim's session keeps its data and its user, and the
// pre-login ID still opens nothing of it. A request that changed nothing
// of its handler's (a Regenerate made moot by the login) is answered as
// usual, with no cookie, quietly; a write held across a regeneration that
// keeps the user is merged as always.
func StaleWriteAfterLogin(t *testing.T, store session.Store) {
	const (
		merged = iota
		refused
		dropped
	)
	for _, tc := range []struct {
		name string
		a    string // the slow request
		b    string // what happens while it is held
		want int
	}{
		{"data write across a login", "/set?k=cart&v=evil", "/login?u=alice", refused},
		{"login of another user across a login", "/login?u=mallory", "/login?u=alice", refused},
		{"regeneration across a login", "/regenerate?", "/login?u=alice", dropped},
		{"data write across a regeneration", "/set?k=cart&v=2", "/regenerate", merged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, store)
			sid := s.newSession()
			done, release := s.startHeld("POST", tc.a+"&hold=a", sid) // A has loaded the anonymous session
			b := s.do("POST", tc.b, sid)
			if b.status != http.StatusOK || b.sid == "" {
				t.Fatalf("B: %d, cookie %v", b.status, b.sid != "")
			}
			release()
			a := <-done
			h, _ := token.Parse(b.sid)
			rec, err := store.Load(t.Context(), h)
			if err != nil {
				t.Fatalf("loading B's session: %v", err)
			}
			if tc.want == merged {
				if a.status != http.StatusOK || rec.Data["cart"] != "2" {
					t.Fatalf("A across a regeneration: %d, cart %q; want 200 and its write merged", a.status, rec.Data["cart"])
				}
				return
			}
			wantStatus, wantEvents := http.StatusConflict, 1
			if tc.want == dropped {
				wantStatus, wantEvents = http.StatusOK, 0
			}
			if a.status != wantStatus || a.sid != "" {
				t.Errorf("A: %d, cookie %v; want %d and no cookie", a.status, a.sid != "", wantStatus)
			}
			who := s.do("GET", "/whoami", b.sid).body
			if who != "alice" || rec.User != "alice" || rec.Data["cart"] != "1" || len(rec.Data) != 1 {
				t.Fatalf("the signed-in session after A: user %q (stored %q), data %v; want alice, cart=1", who, rec.User, rec.Data)
			}
			if who := s.do("GET", "/whoami", sid).body; who != "" {
				t.Errorf("the pre-login ID is signed in as %q", who)
			}
			if cart := s.do("GET", "/get?k=cart", sid).body; cart != "" {
				t.Errorf("the pre-login ID sees cart %q", cart)
			}
			if n := s.events.Count("session.stale_write_refused"); n != wantEvents {
				t.Errorf("%d session.stale_write_refused events, want %d", n, wantEvents)
			}
		})
	}
}

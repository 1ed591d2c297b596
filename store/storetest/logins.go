package storetest

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
)

// LoginRounds is how many times ConcurrentLogins repeats its race.
const LoginRounds = 200

// ConcurrentLogins (concurrent logins on one session all answer
// with a cookie that is signed in): two logins of one user on one
// anonymous session, both loaded before either saves, in the same clock
// reading (the site's clock is frozen), LoginRounds times. Every login
// must answer with an ID that is signed in; the pre-login ID must not be.
func ConcurrentLogins(t *testing.T, store session.Store) {
	s := newSite(t, store)
	lost := 0
	for round := range LoginRounds {
		sid := s.newSession()
		var loaded sync.WaitGroup
		loaded.Add(2)
		release := make(chan struct{})
		s.setHold(func(string) {
			loaded.Done()
			select { // both loaded: the race is certain
			case <-release:
			case <-time.After(10 * time.Second):
				t.Errorf("round %d: the other login never arrived", round)
			}
		})
		go func() {
			loaded.Wait()
			close(release)
		}()
		var answers [2]answer
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() { answers[i] = s.do("POST", "/login?u=alice&hold=race", sid) })
		}
		wg.Wait()
		for i, a := range answers {
			if a.status != http.StatusOK || a.sid == "" {
				t.Errorf("round %d login %d: status %d, cookie %v", round, i, a.status, a.sid != "")
				lost++
				continue
			}
			if who := s.do("GET", "/whoami", a.sid).body; who != "alice" {
				lost++
				t.Errorf("round %d login %d: its ID is signed in as %q, want alice", round, i, who)
			}
		}
		if who := s.do("GET", "/whoami", sid).body; who != "" {
			t.Fatalf("round %d: the pre-login ID is signed in as %q", round, who)
		}
		if t.Failed() && lost > 5 {
			break
		}
	}
	if lost > 0 {
		t.Fatalf("%d logins lost their ID", lost)
	}
}

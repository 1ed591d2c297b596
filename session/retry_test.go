package session_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

// casOnly hides the memory store's Merge, so the Manager falls back to
// compare-and-swap (the path of stores without session.Merger).
type casOnly struct{ session.Store }

// TestCASFallbackKeepsEveryWrite: without a merge, 1,000 concurrent
// writers of distinct keys still all succeed (retries with backoff, not a
// fixed count) and every key is kept.
func TestCASFallbackKeepsEveryWrite(t *testing.T) {
	mem := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	h := newHarness(t, session.Config{Store: casOnly{mem}}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=start&v=1", nil)
	hdr := cookieHeader("__Host-sid", h.sid(c))
	rc := h.rawClient()
	const n = 1000
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/set?k=k%d&v=%d", h.srv.URL, i, i), nil)
			req.Header = hdr.Clone()
			resp, err := rc.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	_, body, _ := h.do(c, "GET", "/keys", nil)
	if got := len(strings.Split(body, ",")); ok.Load() != n || got != n+1 {
		t.Fatalf("%d of %d writers succeeded, %d keys, want all and %d", ok.Load(), n, got, n+1)
	}
}

// alwaysConflict is a store whose every Update loses to another writer.
type alwaysConflict struct {
	session.Store
	updates atomic.Int64
}

func (a *alwaysConflict) Update(context.Context, *session.Record, uint64) error {
	a.updates.Add(1)
	return session.ErrConflict
}

// TestCASRetriesBoundedByContext: a save that keeps conflicting retries
// with backoff until the request's context ends, then answers 503 — not
// after a fixed number of attempts, and not forever.
func TestCASRetriesBoundedByContext(t *testing.T) {
	mem := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	st := &alwaysConflict{Store: mem}
	m, err := session.New(session.Config{Store: st, Auditor: &testkit.Auditor{}})
	if err != nil {
		t.Fatal(err)
	}
	const budget = 400 * time.Millisecond
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), budget)
		defer cancel()
		m.Handler(app()).ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	c := srv.Client()
	resp, err := c.Post(srv.URL+"/set?k=a&v=1", "", nil) // Create: no conflict
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sid string
	for _, ck := range resp.Cookies() {
		sid = ck.Value
	}
	req, _ := http.NewRequest("POST", srv.URL+"/set?k=b&v=2", nil)
	req.Header.Set("Cookie", "__Host-sid="+sid)
	start := time.Now()
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a save that never wins = %d, want 503", resp.StatusCode)
	}
	if took < budget-50*time.Millisecond || took > budget+2*time.Second {
		t.Fatalf("gave up after %v, want about the request's %v", took, budget)
	}
	// Backoff, not a busy loop; more than 50 attempts is fine.
	if n := st.updates.Load(); n < 5 || n > 2000 {
		t.Fatalf("%d attempts in %v: want a few dozen (exponential backoff with jitter)", n, took)
	}
}

// TestResentValuesWriteNothing: a request that sets keys to the
// values they already have (a backend re-sending its update) writes
// nothing; a real change still writes.
func TestResentValuesWriteNothing(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=a&v=1", nil)
	before := h.store.writes()
	for range 5 {
		h.do(c, "POST", "/set?k=a&v=1", nil)
	}
	if n := h.store.writes() - before; n != 0 {
		t.Fatalf("5 requests re-sending a=1 wrote %d times, want 0", n)
	}
	h.do(c, "POST", "/set?k=a&v=2", nil)
	if n := h.store.writes() - before; n != 1 {
		t.Fatalf("a changed value wrote %d times, want 1", n)
	}
}

package storetest

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
)

// ExpiredUnswept is the attack of a client that keeps the cookie of a
// session whose record has expired but which GC has not deleted yet (a
// sweep that falls behind leaves many): through a real Manager and HTTP
// client, the session is served before its end and not after, while its
// record is still in s. expired counts the records of s whose stored
// expiry is at or before at (the store's own view, under the store), so
// that the test shows the record was there, unswept, when it was refused.
func ExpiredUnswept(t *testing.T, s session.Store, expired func(t *testing.T, at time.Time) int) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	m, err := session.New(session.Config{Store: s, Now: clock, IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour,
		Auditor: &session.SlogAuditor{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).Get("cart"))
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("cart", "secret")
	})
	ts := httptest.NewTLSServer(m.Handler(mux))
	defer ts.Close()
	client := ts.Client()
	client.Jar, _ = cookiejar.New(nil)
	do := func(method, path string) string {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %s %q", method, path, resp.Status, b)
		}
		return string(b)
	}
	do("POST", "/write")
	if got := do("GET", "/read"); got != "secret" {
		t.Fatalf("live session: read %q, want %q", got, "secret")
	}
	before := expired(t, now)

	mu.Lock()
	now = now.Add(48 * time.Hour) // past the session's end and its record's Expires
	mu.Unlock()
	if n := expired(t, clock()); n != before+1 {
		t.Fatalf("%d records expired and unswept, want %d: the session's record must still be stored", n, before+1)
	}
	if got := do("GET", "/read"); got != "" {
		t.Fatalf("expired, unswept session: read %q, want nothing (a fresh session)", got)
	}
}

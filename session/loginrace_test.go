package session_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

// Concurrent logins on one session all answer with cookies that
// are signed in — in mixed mode too, where a login over HTTPS replaces
// both the secure and the insecure ID and the loser joins the winner
// through the old secure ID. The clock is frozen (two logins in one clock
// reading) and both logins are held until both have loaded, 200 times;
// storetest.ConcurrentLogins does the same in HTTPS-only mode on
// every store.
func TestMixedConcurrentLoginsFrozenClock(t *testing.T) {
	mem := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	now := time.Now()
	m, err := session.New(session.Config{Store: mem, Mode: session.Mixed, Auditor: &testkit.Auditor{},
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var hold sync.Mutex
	var arrive func()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("cart", "1")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).User())
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		hold.Lock()
		f := arrive
		hold.Unlock()
		f()
		if err := session.FromContext(r.Context()).Login("alice"); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
		}
	})
	srv := httptest.NewTLSServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	client := srv.Client()
	names := []string{m.Config().Cookie.Name, m.Config().Cookie.SecureName}
	// do sends the cookies and returns them updated by the response.
	do := func(method, path string, cookies map[string]string) (int, string, map[string]string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for _, n := range names {
			if v := cookies[n]; v != "" {
				req.AddCookie(&http.Cookie{Name: n, Value: v})
			}
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, "", nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		out := map[string]string{}
		for k, v := range cookies {
			out[k] = v
		}
		for _, c := range resp.Cookies() {
			out[c.Name] = c.Value
		}
		return resp.StatusCode, string(body), out
	}
	lost := 0
	for round := range 200 {
		_, _, before := do("POST", "/set", nil) // over HTTPS: insecure and secure ID
		if before[names[0]] == "" || before[names[1]] == "" {
			t.Fatalf("no mixed-mode session: %v", before)
		}
		var loaded sync.WaitGroup
		loaded.Add(2)
		release := make(chan struct{})
		hold.Lock()
		arrive = func() {
			loaded.Done()
			<-release
		}
		hold.Unlock()
		go func() {
			loaded.Wait()
			close(release)
		}()
		var wg sync.WaitGroup
		var after [2]map[string]string
		var codes [2]int
		for i := range after {
			wg.Go(func() { codes[i], _, after[i] = do("POST", "/login", before) })
		}
		wg.Wait()
		for i, c := range after {
			if codes[i] != http.StatusOK || c[names[1]] == before[names[1]] || c[names[0]] == before[names[0]] {
				t.Errorf("round %d login %d: %d; new cookies %v", round, i, codes[i], c[names[1]] != before[names[1]])
				lost++
				continue
			}
			if _, who, _ := do("GET", "/whoami", c); who != "alice" {
				t.Errorf("round %d login %d: its cookies are signed in as %q", round, i, who)
				lost++
			}
		}
		if _, who, _ := do("GET", "/whoami", before); who != "" {
			t.Fatalf("round %d: the pre-login cookies are signed in as %q", round, who)
		}
		if lost > 5 {
			break
		}
	}
	if lost > 0 {
		t.Fatalf("%d logins lost their cookies", lost)
	}
}

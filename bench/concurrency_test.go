package bench

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/sessions"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

// kvOps adapts a library to the concurrency test's three routes.
type kvOps struct {
	name string
	wrap func(http.Handler) http.Handler // middleware, if the library has one
	set  func(w http.ResponseWriter, r *http.Request, k, v string) error
	keys func(r *http.Request) []string
}

func sessiondOps(t *testing.T) kvOps {
	store := memory.New(memory.Config{})
	t.Cleanup(func() { store.Close() })
	m, err := session.New(session.Config{Store: store}) // defaults: CAS merge, no lock
	if err != nil {
		t.Fatal(err)
	}
	return kvOps{
		name: "sessiond",
		wrap: m.Handler,
		set: func(w http.ResponseWriter, r *http.Request, k, v string) error {
			session.FromContext(r.Context()).Set(k, v)
			return nil
		},
		keys: func(r *http.Request) []string { return session.FromContext(r.Context()).Keys() },
	}
}

func scsOps() kvOps {
	sm := scs.New() // memstore
	return kvOps{
		name: "scs",
		wrap: sm.LoadAndSave,
		set: func(w http.ResponseWriter, r *http.Request, k, v string) error {
			sm.Put(r.Context(), k, v)
			return nil
		},
		keys: func(r *http.Request) []string { return sm.Keys(r.Context()) },
	}
}

func gorillaOps(name string, store sessions.Store) kvOps {
	return kvOps{
		name: name,
		wrap: func(h http.Handler) http.Handler { return h },
		set: func(w http.ResponseWriter, r *http.Request, k, v string) error {
			s, _ := store.Get(r, gorillaCookie)
			s.Values[k] = v
			return s.Save(r, w)
		},
		keys: func(r *http.Request) []string {
			s, _ := store.Get(r, gorillaCookie)
			var out []string
			for k := range s.Values {
				if ks, ok := k.(string); ok {
					out = append(out, ks)
				}
			}
			return out
		},
	}
}

// concurrencyResult is one library's outcome.
type concurrencyResult struct {
	name      string
	ok, total int
	kept      int
	firstErr  string
}

// runConcurrentKeys starts one session on a TLS test server, sends n
// concurrent requests with its cookie, each setting its own key, and counts
// the keys that survived.
func runConcurrentKeys(t *testing.T, ops kvOps, n int) concurrencyResult {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /init", func(w http.ResponseWriter, r *http.Request) {
		if err := ops.set(w, r, "init", "1"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		if err := ops.set(w, r, r.URL.Query().Get("k"), "1"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		c := 0
		for _, k := range ops.keys(r) {
			if strings.HasPrefix(k, "k-") {
				c++
			}
		}
		io.WriteString(w, strconv.Itoa(c))
	})
	srv := httptest.NewUnstartedServer(ops.wrap(mux))
	// A thousand simultaneous handshakes make a few harmless "TLS handshake
	// error ... EOF" lines; keep the test output to the figures.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = n
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: tr, Jar: jar}
	defer tr.CloseIdleConnections()

	do := func(method, path string) (int, string, error) {
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			return 0, "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}

	if code, body, err := do(http.MethodPost, "/init"); err != nil || code != http.StatusOK {
		t.Fatalf("%s: init: %d %q %v", ops.name, code, body, err)
	}
	if len(jar.Cookies(mustURL(t, srv.URL))) == 0 {
		t.Fatalf("%s: init set no cookie", ops.name)
	}

	res := concurrencyResult{name: ops.name, total: n}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			code, body, err := do(http.MethodPost, fmt.Sprintf("/set?k=k-%04d", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				if res.firstErr == "" {
					res.firstErr = err.Error()
				}
			case code != http.StatusOK:
				if res.firstErr == "" {
					res.firstErr = fmt.Sprintf("status %d: %s", code, strings.TrimSpace(body))
				}
			default:
				res.ok++
			}
		})
	}
	close(start)
	wg.Wait()

	code, body, err := do(http.MethodGet, "/count")
	if err != nil || code != http.StatusOK {
		t.Fatalf("%s: count: %d %q %v", ops.name, code, body, err)
	}
	res.kept, err = strconv.Atoi(body)
	if err != nil {
		t.Fatalf("%s: count: %q", ops.name, body)
	}
	return res
}

// TestConcurrentKeys is SPEC §4's "no lost update": 1,000 concurrent
// requests on ONE session, each setting its own key, over real HTTPS with a
// real client. sessiond (CAS merge, the default) must keep all of them; the
// other libraries' figures are logged beside it for comparison.
func TestConcurrentKeys(t *testing.T) {
	const n = 1000
	var results []concurrencyResult
	for _, ops := range []kvOps{
		sessiondOps(t),
		scsOps(),
		gorillaOps("gorilla (CookieStore)", sessions.NewCookieStore(gorillaHashKey, gorillaBlockKey)),
		gorillaOps("gorilla (FilesystemStore)", newFilesystemStore(t)),
	} {
		results = append(results, runConcurrentKeys(t, ops, n))
	}
	t.Logf("%d concurrent requests on one session, each setting its own key:", n)
	t.Logf("  %-26s %8s %10s %6s", "library", "200 OK", "keys kept", "lost")
	for _, r := range results {
		line := fmt.Sprintf("  %-26s %8d %10d %6d", r.name, r.ok, r.kept, r.total-r.kept)
		if r.firstErr != "" {
			line += "  (first error: " + r.firstErr + ")"
		}
		t.Log(line)
	}
	sd := results[0]
	if sd.ok != n || sd.kept != n {
		t.Errorf("sessiond: %d of %d requests succeeded and %d of %d keys were kept; want all (first error: %s)",
			sd.ok, n, sd.kept, n, sd.firstErr)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newFilesystemStore(t *testing.T) *sessions.FilesystemStore {
	fs := sessions.NewFilesystemStore(t.TempDir(), gorillaHashKey, gorillaBlockKey)
	fs.MaxLength(0) // the file may exceed securecookie's 4 KB cookie limit
	fs.Options.Secure = true
	return fs
}

package session_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

// countingStore is the real memory store with counters on every call, so
// tests can assert how many reads and writes a request made. It can also
// be switched "down" to simulate an outage of the store behind it.
type countingStore struct {
	*memory.Store
	loads, creates, updates, deletes atomic.Int64
	down                             atomic.Bool
}

var errDown = fmt.Errorf("%w: test store switched off", session.ErrUnavailable)

func (c *countingStore) Load(ctx context.Context, h session.Hash) (*session.Record, error) {
	c.loads.Add(1)
	if c.down.Load() {
		return nil, errDown
	}
	return c.Store.Load(ctx, h)
}

func (c *countingStore) Create(ctx context.Context, r *session.Record) error {
	c.creates.Add(1)
	if c.down.Load() {
		return errDown
	}
	return c.Store.Create(ctx, r)
}

func (c *countingStore) Update(ctx context.Context, r *session.Record, prev uint64) error {
	c.updates.Add(1)
	if c.down.Load() {
		return errDown
	}
	return c.Store.Update(ctx, r, prev)
}

func (c *countingStore) Merge(ctx context.Context, ch *session.Change) error {
	c.updates.Add(1)
	if c.down.Load() {
		return errDown
	}
	return c.Store.Merge(ctx, ch)
}

func (c *countingStore) Delete(ctx context.Context, ref string) error {
	c.deletes.Add(1)
	if c.down.Load() {
		return errDown
	}
	return c.Store.Delete(ctx, ref)
}

func (c *countingStore) writes() int64 { return c.creates.Load() + c.updates.Load() + c.deletes.Load() }

// app is a small handler exercising the session API.
func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).Get(r.URL.Query().Get("k")))
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Join(session.FromContext(r.Context()).Keys(), ","))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).User())
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		session.FromContext(r.Context()).Set(q.Get("k"), q.Get("v"))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.URL.Query().Get("u")); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Logout(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /regen", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Regenerate(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

type harness struct {
	t     *testing.T
	store *countingStore
	m     *session.Manager
	srv   *httptest.Server
	clock *testkit.Clock
}

// newHarness starts a real HTTPS server with the manager around handler
// (app() if nil). cfg.Store defaults to a counting memory store.
func newHarness(t *testing.T, cfg session.Config, handler http.Handler) *harness {
	t.Helper()
	h := &harness{t: t, clock: testkit.NewClock(time.Now())}
	mem := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	h.store = &countingStore{Store: mem}
	if cfg.Store == nil && cfg.Codec == nil {
		cfg.Store = h.store
	}
	if cfg.Now == nil {
		cfg.Now = h.clock.Now
	}
	if cfg.Auditor == nil {
		cfg.Auditor = &testkit.Auditor{}
	}
	m, err := session.New(cfg)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	h.m = m
	if handler == nil {
		handler = app()
	}
	h.srv = httptest.NewTLSServer(m.Handler(handler))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) auditor() *testkit.Auditor { return h.m.Config().Auditor.(*testkit.Auditor) }

// client is a fresh browser-like client with its own cookie jar.
func (h *harness) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := h.srv.Client()
	tr := c.Transport.(*http.Transport).Clone()
	tr.MaxConnsPerHost = 64
	return &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// rawClient has no jar: tests set Cookie headers by hand.
func (h *harness) rawClient() *http.Client {
	tr := h.srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // test server's own cert, loopback only
	tr.MaxConnsPerHost = 64
	return &http.Client{Transport: tr}
}

// do sends a request and returns status, body and the response.
func (h *harness) do(c *http.Client, method, path string, header http.Header) (int, string, *http.Response) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp
}

// sid returns the session cookie value the client's jar holds.
func (h *harness) sid(c *http.Client) string {
	h.t.Helper()
	u, _ := url.Parse(h.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == h.m.Config().Cookie.Name {
			return ck.Value
		}
	}
	return ""
}

func cookieHeader(name, value string) http.Header {
	return http.Header{"Cookie": {name + "=" + value}}
}

func setCookies(resp *http.Response) []*http.Cookie { return resp.Cookies() }

var _ = errors.Is

package remember_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/remember/internal/sqltest"
)

// backends are the real stores every Manager test runs against.
var backends = []struct {
	name string
	open func(t *testing.T) remember.Store
}{
	{"memory", func(*testing.T) remember.Store { return remember.NewMemoryStore() }},
	{"sqlite", func(t *testing.T) remember.Store { return sqltest.SQLite(t).Store }},
	{"postgres", func(t *testing.T) remember.Store { return sqltest.Postgres(t).Store }},
}

// eachBackend runs f once per store.
func eachBackend(t *testing.T, f func(t *testing.T, open func(*testing.T) remember.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.open) })
	}
}

// app is the application under test: POST /login issues a key (a password
// login with "remember me"), GET /auto tries auto-login, POST /disable turns
// it off, and OnReuse revokes "sessions" by recording the user.
type app struct {
	*httptest.Server
	m       *remember.Manager
	store   remember.Store
	clock   *testkit.Clock
	audit   *testkit.Auditor
	mu      sync.Mutex
	revoked []string // users whose sessions OnReuse revoked
}

func newApp(t *testing.T, store remember.Store, tweak func(*remember.Config)) *app {
	t.Helper()
	a := &app{store: store, clock: testkit.NewClock(time.Now().UTC().Truncate(time.Microsecond)), audit: &testkit.Auditor{}}
	cfg := remember.Config{
		Store:   store,
		Now:     a.clock.Now,
		Auditor: a.audit,
		OnReuse: func(_ context.Context, user string) error {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.revoked = append(a.revoked, user)
			return nil
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	m, err := remember.New(cfg)
	if err != nil {
		t.Fatalf("remember.New: %v", err)
	}
	a.m = m
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Issue(w, r, r.FormValue("user")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /auto", func(w http.ResponseWriter, r *http.Request) {
		user, err := m.Authenticate(w, r)
		if err != nil {
			w.Header().Set("X-Reason", reasonOf(err))
			code := http.StatusUnauthorized
			if w.Header().Get("X-Reason") == "store" {
				code = http.StatusServiceUnavailable
			}
			w.WriteHeader(code)
			return
		}
		io.WriteString(w, user)
	})
	mux.HandleFunc("POST /disable", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Disable(w, r, r.FormValue("user")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	a.Server = httptest.NewUnstartedServer(mux)
	// Idle connections the clients opened but never used end in handshake
	// errors at Close; they are not what these tests look at.
	a.Config.ErrorLog = log.New(io.Discard, "", 0)
	a.StartTLS()
	t.Cleanup(a.Close)
	return a
}

func (a *app) revokedUsers() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.revoked...)
}

func reasonOf(err error) string {
	for _, s := range []struct {
		err  error
		name string
	}{
		{remember.ErrNoCookie, "no_cookie"}, {remember.ErrInvalid, "invalid"}, {remember.ErrNotFound, "not_found"},
		{remember.ErrReused, "reused"}, {remember.ErrRaced, "raced"},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "store"
}

// browser is a real client with its own cookie jar.
type browser struct {
	t *testing.T
	c *http.Client
	a *app
}

func (a *app) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := a.Client()
	return &browser{t: t, a: a, c: &http.Client{Transport: c.Transport, Jar: jar}}
}

// result is what a request came back with.
type result struct {
	code      int
	body      string
	reason    string
	setCookie []string
	header    http.Header
}

func (b *browser) do(method, path string, form url.Values) result {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.a.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return send(b.t, b.c, req)
}

func send(t *testing.T, c *http.Client, req *http.Request) result {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{code: resp.StatusCode, body: string(b), reason: resp.Header.Get("X-Reason"), setCookie: resp.Header.Values("Set-Cookie"), header: resp.Header}
}

func (b *browser) login(user string) {
	b.t.Helper()
	if r := b.do("POST", "/login", url.Values{"user": {user}}); r.code != 200 {
		b.t.Fatalf("login: %d %s", r.code, r.body)
	}
}

// auto tries auto-login and returns the user ("" on refusal) and reason.
func (b *browser) auto() (user, reason string) {
	b.t.Helper()
	r := b.do("GET", "/auto", nil)
	if r.code == 200 {
		return r.body, ""
	}
	return "", r.reason
}

// key is the browser's current auto-login cookie value, "" if none.
func (b *browser) key() string {
	u, _ := url.Parse(b.a.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == remember.DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

// copyKey puts value into b's jar, as a thief who copied a cookie would.
func (b *browser) copyKey(value string) {
	u, _ := url.Parse(b.a.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: remember.DefaultCookieName, Value: value, Path: "/", Secure: true, HttpOnly: true}})
}

// selector is the lookup part of a cookie value.
func selector(value string) string {
	s, _, _ := strings.Cut(value, ".")
	return s
}

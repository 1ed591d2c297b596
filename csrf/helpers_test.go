package csrf_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sessiond/sessiond/csrf"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
)

// The session package's Session is what applications pass as a Store.
var _ csrf.Store = (*session.Session)(nil)

// memSession is the key/value surface of one test session: a real map,
// guarded, one per session cookie. It is what csrf.Store asks for, not a
// stand-in for a session store.
type memSession struct {
	mu   sync.Mutex
	m    map[string]string
	cart int
}

func (s *memSession) Get(k string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

func (s *memSession) Set(k, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
}

func (s *memSession) User() string { return "alice" }

// sessions keys memSessions by a random cookie, created on first contact.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*memSession
}

type sessKey struct{}

const sidCookie = "test-sid"

func (ss *sessions) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss.mu.Lock()
		var s *memSession
		if c, err := r.Cookie(sidCookie); err == nil {
			s = ss.byID[c.Value]
		}
		if s == nil {
			var raw [32]byte
			_, _ = rand.Read(raw[:])
			id := base64.RawURLEncoding.EncodeToString(raw[:])
			s = &memSession{m: map[string]string{}}
			if ss.byID == nil {
				ss.byID = map[string]*memSession{}
			}
			ss.byID[id] = s
			http.SetCookie(w, &http.Cookie{Name: sidCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		ss.mu.Unlock()
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessKey{}, s)))
	})
}

// sessionOf is what an app's Config.Session does with session.FromContext.
func sessionOf(r *http.Request) csrf.Store {
	if s, _ := r.Context().Value(sessKey{}).(*memSession); s != nil {
		return s
	}
	return nil
}

var formTmpl = template.Must(template.New("form").Funcs(csrf.FuncMap()).Parse(
	`<form method="post" action="/cart/add">{{ csrfField .Request }}<input name="product" value="1"></form>`))

// shop is the app under test: a form page, a token endpoint for scripts,
// and a cart that only changes through POST.
func shop() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := formTmpl.Execute(w, struct{ Request *http.Request }{r}); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, csrf.Token(r))
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		s := r.Context().Value(sessKey{}).(*memSession)
		s.mu.Lock()
		defer s.mu.Unlock()
		fmt.Fprint(w, s.cart)
	})
	add := func(w http.ResponseWriter, r *http.Request) {
		s := r.Context().Value(sessKey{}).(*memSession)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cart++
		fmt.Fprint(w, "added")
	}
	mux.HandleFunc("POST /cart/add", add)
	mux.HandleFunc("PUT /cart", add)
	mux.HandleFunc("DELETE /cart", add)
	mux.HandleFunc("POST /hooks/pay", add)
	return mux
}

type server struct {
	*httptest.Server
	audit *testkit.Auditor
}

// newServer runs sessions → csrf → shop on a real listener.
func newServer(t *testing.T, cfg csrf.Config) *server {
	t.Helper()
	rec := &testkit.Auditor{}
	if cfg.Session == nil {
		cfg.Session = sessionOf
	}
	cfg.Auditor = rec
	p, err := csrf.New(cfg)
	if err != nil {
		t.Fatalf("csrf.New: %v", err)
	}
	ss := &sessions{}
	srv := httptest.NewServer(ss.wrap(p.Handler(shop())))
	t.Cleanup(srv.Close)
	return &server{Server: srv, audit: rec}
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

var fieldRE = regexp.MustCompile(`<input type="hidden" name="csrf_token" value="([A-Za-z0-9_-]+)">`)

// formToken renders the form page and returns the token in its hidden field.
func formToken(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	body, code := do(t, c, "GET", base+"/form", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("GET /form: %d %s", code, body)
	}
	m := fieldRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no hidden csrf field in %q", body)
	}
	return m[1]
}

// do sends one request; form, if not nil, is the urlencoded body.
func do(t *testing.T, c *http.Client, method, u string, form url.Values, hdr http.Header) (string, int) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if h := hdr.Get("Host"); h != "" {
		// The client looks cookies up under the Host override, so send
		// the jar's cookies for the real URL by hand.
		req.Host = h
		if c.Jar != nil {
			for _, ck := range c.Jar.Cookies(req.URL) {
				req.AddCookie(ck)
			}
			c = &http.Client{Transport: c.Transport}
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.StatusCode
}

func cart(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	body, code := do(t, c, "GET", base+"/cart", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("GET /cart: %d", code)
	}
	return body
}

package storetest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
)

// site is a Manager on the store under test behind a real HTTPS server on
// loopback, with a frozen clock (two requests in the same clock reading
// happen in production too), for the suite's checks through the public
// API. Its client has no cookie jar: a test passes session IDs by hand, so
// it can send one ID in several concurrent requests.
type site struct {
	t      *testing.T
	m      *session.Manager
	srv    *httptest.Server
	client *http.Client
	events *testkit.Auditor
	mu     sync.Mutex
	// hold, if set, is called by a handler given ?hold=NAME after its
	// session was loaded and before it changes anything.
	hold func(name string)
}

func newSite(t *testing.T, store session.Store) *site {
	t.Helper()
	now := time.Now().Truncate(time.Microsecond)
	s := &site{t: t, events: &testkit.Auditor{}}
	m, err := session.New(session.Config{Store: store, Auditor: s.events, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	s.m = m
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).User())
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).Get(r.URL.Query().Get("k")))
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		s.held(r)
		q := r.URL.Query()
		session.FromContext(r.Context()).Set(q.Get("k"), q.Get("v"))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s.held(r)
		if err := session.FromContext(r.Context()).Login(r.URL.Query().Get("u")); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s.held(r)
		end := session.FromContext(r.Context()).Logout
		if r.URL.Query().Get("how") == "destroy" {
			end = session.FromContext(r.Context()).Destroy
		}
		if err := end(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /regenerate", func(w http.ResponseWriter, r *http.Request) {
		s.held(r)
		if err := session.FromContext(r.Context()).Regenerate(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	s.srv = httptest.NewTLSServer(m.Handler(mux))
	t.Cleanup(s.srv.Close)
	tr := s.srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxConnsPerHost = 16
	s.client = &http.Client{Transport: tr, Timeout: time.Minute}
	return s
}

func (s *site) held(r *http.Request) {
	name := r.URL.Query().Get("hold")
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if name != "" && hold != nil {
		hold(name)
	}
}

func (s *site) setHold(f func(name string)) {
	s.mu.Lock()
	s.hold = f
	s.mu.Unlock()
}

// startHeld sends request A (method path, which must carry "hold=..." in
// its query) in the background and returns once A's handler has loaded
// the session and is held. A runs on when release is called; done gives
// its answer.
func (s *site) startHeld(method, path, sid string) (done <-chan answer, release func()) {
	loaded, held := make(chan struct{}), make(chan struct{})
	s.setHold(func(string) {
		close(loaded)
		select {
		case <-held:
		case <-time.After(time.Minute):
		}
	})
	ch := make(chan answer, 1)
	go func() { ch <- s.do(method, path, sid) }()
	<-loaded
	s.setHold(nil)
	return ch, func() { close(held) }
}

// answer is what a request got back.
type answer struct {
	status int
	body   string
	// sid is the session cookie the response set ("" if none).
	sid string
}

// do sends method path with session ID sid (none if "") and returns the
// answer. It is safe for concurrent use; it reports failures with
// t.Errorf, so it may run in any goroutine.
func (s *site) do(method, path, sid string) answer {
	req, err := http.NewRequest(method, s.srv.URL+path, nil)
	if err != nil {
		s.t.Errorf("%s %s: %v", method, path, err)
		return answer{}
	}
	name := s.m.Config().Cookie.Name
	if sid != "" {
		req.AddCookie(&http.Cookie{Name: name, Value: sid})
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Errorf("%s %s: %v", method, path, err)
		return answer{}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: string(body)}
	for _, c := range resp.Cookies() {
		if c.Name == name && c.MaxAge >= 0 {
			a.sid = c.Value
		}
	}
	return a
}

// newSession creates an anonymous session holding cart=1 and returns its ID.
func (s *site) newSession() string {
	s.t.Helper()
	a := s.do("POST", "/set?k=cart&v=1", "")
	if a.status != http.StatusOK || a.sid == "" {
		s.t.Fatalf("creating a session: %d, cookie %v", a.status, a.sid != "")
	}
	return a.sid
}

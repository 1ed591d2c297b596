package storetest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
)

// ExpiryIdle is the idle timeout Expiry runs with: short, so that a store's
// native expiry (Redis's TTL, the cookie store's sealed expiry) really
// passes in real time.
const ExpiryIdle = time.Second

// Expiry runs one session of cfg's Store or Codec through a Manager and
// lets it end by its idle timeout (ExpiryIdle, real time). A request with
// its cookie after that must be answered as expired, on every store: a
// session.expired event (source request, limit idle_timeout, the
// session's ref and user), the cookie cleared, a fresh session for the
// handler, and no session.unknown_id. With a Store, the Manager's GC run
// after session.ExpiredNotice removes the record and audits the sweep once
// with its count, and the ID is unknown from then on. Run calls it on every
// store; store/cookie calls it with its codec.
func Expiry(t *testing.T, cfg session.Config) {
	var skew atomic.Int64 // the Manager's clock runs this far ahead of the wall clock
	audit := &recorder{}
	cfg.IdleTimeout, cfg.RotateEvery = ExpiryIdle, -1
	cfg.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	cfg.Auditor = audit
	m, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if r.URL.Query().Has("login") {
			if err := s.Login("erin"); err != nil {
				t.Errorf("Login: %v", err)
			}
			s.Set("cart", "7")
		}
		fmt.Fprintf(w, "new=%v cart=%s user=%s", s.IsNew(), s.Get("cart"), s.User())
	}))
	name := m.Config().Cookie.Name
	do := func(cookie, query string) (*http.Response, string) {
		r := httptest.NewRequest("GET", "https://storetest.test/?"+query, nil)
		r.TLS = &tls.ConnectionState{}
		if cookie != "" {
			r.Header.Set("Cookie", name+"="+cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		resp := w.Result()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	sessionCookie := func(resp *http.Response) *http.Cookie {
		for _, c := range resp.Cookies() {
			if c.Name == name {
				return c
			}
		}
		return nil
	}

	resp, _ := do("", "login")
	c := sessionCookie(resp)
	if c == nil || c.Value == "" {
		t.Fatalf("first request set no session cookie (%d)", resp.StatusCode)
	}
	if _, body := do(c.Value, ""); body != "new=false cart=7 user=erin" {
		t.Fatalf("the session does not answer before it ends: %q", body)
	}
	created, _ := audit.last("session.created")
	time.Sleep(ExpiryIdle + 300*time.Millisecond)

	resp, body := do(c.Value, "")
	if body != "new=true cart= user=" {
		t.Fatalf("after the idle timeout the handler got %q; want a new, empty session", body)
	}
	ev, ok := audit.last("session.expired")
	if !ok || attr(ev, "source") != "request" || attr(ev, "limit") != "idle_timeout" || ev.Ref != created.Ref || ev.Ref == "" || ev.User != "erin" {
		t.Fatalf("expiry audited as %+v (found %v); want session.expired, source request, limit idle_timeout, ref %q, user erin",
			ev, ok, created.Ref)
	}
	if n := audit.count("session.unknown_id"); n != 0 {
		t.Fatalf("the expired session was also answered as unknown (%d session.unknown_id)", n)
	}
	if cl := sessionCookie(resp); cl == nil || cl.MaxAge >= 0 || cl.Value != "" {
		t.Fatalf("the expired session's cookie was not cleared: %v", resp.Header.Values("Set-Cookie"))
	}
	if cfg.Store == nil {
		return
	}

	// GC after ExpiredNotice: one event per sweep, with its count.
	skew.Store(int64(session.ExpiredNotice + time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.RunGC(ctx, 20*time.Millisecond) }()
	deadline := time.Now().Add(10 * time.Second)
	var sweeps []session.Event
	for len(sweeps) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		sweeps = audit.all("session.expired", "gc")
	}
	cancel()
	<-done
	if len(sweeps) == 0 {
		t.Fatal("the GC removed nothing or did not audit it")
	}
	for _, ev := range audit.all("session.expired", "gc") {
		if n, err := strconv.Atoi(attr(ev, "count")); err != nil || n < 1 || ev.Ref != "" {
			t.Fatalf("GC event %+v: want a count of at least 1 and no ref", ev)
		}
	}
	hash, ok := token.Parse(c.Value)
	if !ok {
		t.Fatal("the session cookie is not an ID")
	}
	if r, err := cfg.Store.Load(context.Background(), hash); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("after GC, Load = %v, %v; want ErrNotFound", r, err)
	}
}

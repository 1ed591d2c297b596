package session_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
)

func TestThousandConcurrentWritersLoseNothing(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=start&v=1", nil)
	hdr := cookieHeader("__Host-sid", h.sid(c))
	rc := h.rawClient()
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/set?k=k%d&v=%d", h.srv.URL, i, i), nil)
			req.Header = hdr.Clone()
			resp, err := rc.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- resp.Status
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("a concurrent request failed: %s", e)
	}
	_, body, _ := h.do(c, "GET", "/keys", nil)
	if got := len(strings.Split(body, ",")); got != n+1 {
		t.Fatalf("%d keys after %d concurrent writers, want %d", got, n, n+1)
	}
}

func TestRegenerateKeepsDataAndGraceLeadsOn(t *testing.T) {
	h := newHarness(t, session.Config{Grace: 30 * time.Second}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=cart&v=9", nil)
	old := h.sid(c)
	h.do(c, "POST", "/regen", nil)
	nu := h.sid(c)
	if nu == old || nu == "" {
		t.Fatal("Regenerate did not change the ID")
	}
	if _, body, _ := h.do(c, "GET", "/get?k=cart", nil); body != "9" {
		t.Fatalf("data lost on regeneration: %q", body)
	}
	// Explicit Regenerate is soft: the old ID keeps working for
	// the grace window and leads its holder to the new ID ...
	rc := h.rawClient()
	_, body, resp := h.do(rc, "GET", "/get?k=cart", cookieHeader("__Host-sid", old))
	if body != "9" || !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), "\n"), "__Host-sid="+nu) {
		t.Fatalf("pre-regeneration ID within grace: body %q, cookies %q (want the data and the new ID)", body, resp.Header.Values("Set-Cookie"))
	}
	if h.auditor().Count("session.obsolete_id") != 0 {
		t.Fatal("use within the grace window counted as theft")
	}
	// ... and after it, its use is refused as theft.
	h.clock.Advance(31 * time.Second)
	if _, body, _ := h.do(rc, "GET", "/get?k=cart", cookieHeader("__Host-sid", old)); body != "" {
		t.Fatalf("pre-regeneration ID after grace still reads the session: %q", body)
	}
	if h.auditor().Count("session.obsolete_id") != 1 {
		t.Fatal("use after the grace window not audited as theft")
	}
}

func TestPeriodicRotationGraceAndTheft(t *testing.T) {
	h := newHarness(t, session.Config{RotateEvery: 15 * time.Minute, Grace: 30 * time.Second, IdleTimeout: time.Hour}, nil)
	c := h.client()
	other := h.client() // the same user's second device
	h.do(c, "POST", "/login?u=alice", nil)
	h.do(other, "POST", "/login?u=alice", nil)
	h.do(c, "POST", "/set?k=cart&v=3", nil)
	old := h.sid(c)

	h.clock.Advance(16 * time.Minute)
	h.do(c, "GET", "/get?k=cart", nil) // rotates
	nu := h.sid(c)
	if nu == old {
		t.Fatal("no periodic rotation after 16 minutes")
	}
	// Within the grace window the old ID still works and is led to the new one.
	h.clock.Advance(10 * time.Second)
	rc := h.rawClient()
	_, body, resp := h.do(rc, "GET", "/get?k=cart", cookieHeader("__Host-sid", old))
	if body != "3" {
		t.Fatalf("old ID within grace: %q, want the cart", body)
	}
	var got string
	for _, ck := range resp.Cookies() {
		got = ck.Value
	}
	if got != nu {
		t.Fatal("old ID within grace was not given the new cookie")
	}
	// After the window: refused, audited, and (default action) every session of alice is gone.
	h.clock.Advance(time.Minute)
	if _, body, _ := h.do(rc, "GET", "/whoami", cookieHeader("__Host-sid", old)); body != "" {
		t.Fatalf("obsolete ID after grace sees user %q", body)
	}
	ev, ok := h.auditor().Last("session.obsolete_id")
	if !ok || ev.User != "alice" {
		t.Fatalf("theft not audited with the user: %+v", ev)
	}
	for _, cl := range []*http.Client{c, other} {
		if _, body, _ := h.do(cl, "GET", "/whoami", nil); body != "" {
			t.Fatalf("after theft detection a session of alice survives: %q", body)
		}
	}
}

func TestTheftActions(t *testing.T) {
	for _, tc := range []struct {
		action         session.TheftAction
		wantThief      bool // stolen record still alive (via the current ID)
		wantOtherAlive bool
	}{
		{session.RevokeUser, false, false},
		{session.DestroySession, false, true},
		{session.LogOnly, true, true},
	} {
		t.Run(fmt.Sprint(tc.action), func(t *testing.T) {
			h := newHarness(t, session.Config{RotateEvery: time.Minute, Grace: time.Second, TheftAction: tc.action}, nil)
			c, other := h.client(), h.client()
			h.do(c, "POST", "/login?u=bob", nil)
			h.do(other, "POST", "/login?u=bob", nil)
			old := h.sid(c)
			h.clock.Advance(2 * time.Minute)
			h.do(c, "GET", "/whoami", nil) // rotate c
			h.do(other, "GET", "/whoami", nil)
			h.clock.Advance(5 * time.Second)
			h.do(h.rawClient(), "GET", "/whoami", cookieHeader("__Host-sid", old))
			_, me, _ := h.do(c, "GET", "/whoami", nil)
			_, them, _ := h.do(other, "GET", "/whoami", nil)
			if (me == "bob") != tc.wantThief || (them == "bob") != tc.wantOtherAlive {
				t.Fatalf("after theft: rotated session user %q, other session %q", me, them)
			}
		})
	}
}

func TestInFlightRequestsSurviveRegeneration(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		started.Done()
		<-release
		s := session.FromContext(r.Context())
		s.Set("slow-"+r.URL.Query().Get("i"), "done")
		io.WriteString(w, s.User())
	})
	h := newHarness(t, session.Config{RotateEvery: 15 * time.Minute, Grace: 30 * time.Second}, mux)
	c := h.client()
	h.do(c, "POST", "/login?u=carol", nil)
	id := h.sid(c)
	h.clock.Advance(16 * time.Minute) // the next request rotates
	rc := h.rawClient()
	const n = 50
	started.Add(n)
	results := make(chan string, n)
	for i := range n {
		go func() {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/slow?i=%d", h.srv.URL, i), nil)
			req.Header = cookieHeader("__Host-sid", id)
			resp, err := rc.Do(req)
			if err != nil {
				results <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- fmt.Sprintf("%d %s", resp.StatusCode, b)
		}()
	}
	started.Wait()
	h.do(c, "GET", "/whoami", nil) // regenerates while 50 are in flight
	if h.sid(c) == id {
		t.Fatal("no rotation happened")
	}
	close(release)
	for range n {
		if r := <-results; r != "200 carol" {
			t.Fatalf("in-flight request during regeneration: %q, want 200 carol", r)
		}
	}
	_, body, _ := h.do(c, "GET", "/keys", nil)
	if got := strings.Count(body, "slow-"); got != n {
		t.Fatalf("%d of %d in-flight writes kept", got, n)
	}
	if h.auditor().Count("session.obsolete_id") != 0 {
		t.Fatal("in-flight requests were treated as theft")
	}
}

func TestBindingActions(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	from := func(ip, ua string) http.Header {
		return http.Header{"X-Forwarded-For": {ip}, "User-Agent": {ua}}
	}
	cases := []struct {
		name      string
		binding   session.Binding
		second    http.Header
		wantUser  bool
		wantNewID bool
		wantAudit bool
	}{
		{"ip reject", session.Binding{IP: session.BindReject}, from("198.51.100.2", "UA"), false, false, true},
		{"ip regenerate", session.Binding{IP: session.BindRegenerate}, from("198.51.100.2", "UA"), true, true, true},
		{"ip log", session.Binding{IP: session.BindLog}, from("198.51.100.2", "UA"), true, false, true},
		{"ip /24 tolerates", session.Binding{IP: session.BindReject, IPv4Prefix: 24}, from("198.51.100.99", "UA"), true, false, false},
		{"ip /24 other net", session.Binding{IP: session.BindReject, IPv4Prefix: 24}, from("203.0.113.1", "UA"), false, false, true},
		{"ua reject", session.Binding{UserAgent: session.BindReject}, from("198.51.100.1", "Other/2"), false, false, true},
		{"ua regenerate", session.Binding{UserAgent: session.BindRegenerate}, from("198.51.100.1", "Other/2"), true, true, true},
		{"ua log", session.Binding{UserAgent: session.BindLog}, from("198.51.100.1", "Other/2"), true, false, true},
		{"unchanged", session.Binding{IP: session.BindReject, UserAgent: session.BindReject}, from("198.51.100.1", "UA"), true, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, session.Config{Binding: tc.binding, TrustedProxies: trusted}, nil)
			c := h.client()
			h.do(c, "POST", "/login?u=dan", from("198.51.100.1", "UA"))
			id := h.sid(c)
			_, body, _ := h.do(c, "GET", "/whoami", tc.second)
			if (body == "dan") != tc.wantUser {
				t.Fatalf("user = %q, want visible=%v", body, tc.wantUser)
			}
			if (h.sid(c) != id) != tc.wantNewID {
				t.Fatalf("ID changed = %v, want %v", h.sid(c) != id, tc.wantNewID)
			}
			if got := h.auditor().Count("session.binding_mismatch") > 0; got != tc.wantAudit {
				t.Fatalf("audited = %v, want %v", got, tc.wantAudit)
			}
			if tc.name == "ip reject" {
				// The rightful client is unaffected.
				if _, body, _ := h.do(c, "GET", "/whoami", from("198.51.100.1", "UA")); body != "dan" {
					t.Fatalf("rightful client lost the session: %q", body)
				}
			}
		})
	}
}

func TestExclusiveLockSerialisesReadModifyWrite(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /incr", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := s.Int("n")
		time.Sleep(time.Millisecond)
		s.SetInt("n", n+1)
	})
	mux.Handle("/", app())
	h := newHarness(t, session.Config{Lock: true}, mux)
	c := h.client()
	h.do(c, "POST", "/set?k=n&v=0", nil)
	hdr := cookieHeader("__Host-sid", h.sid(c))
	rc := h.rawClient()
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() { h.do(rc, "POST", "/incr", hdr) })
	}
	wg.Wait()
	if _, body, _ := h.do(c, "GET", "/get?k=n", nil); body != "40" {
		t.Fatalf("counter = %s after 40 locked increments, want 40", body)
	}
}

func TestCommitReleasesLockAndLateChangesAreSaved(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /stream", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("before", "1")
		if err := s.Commit(); err != nil {
			t.Error(err)
		}
		io.WriteString(w, "streaming")
		w.(http.Flusher).Flush()
		s.Set("after", "2") // after the response started: still saved
		if err := s.Regenerate(); !errors.Is(err, session.ErrResponseStarted) {
			t.Errorf("Regenerate after the response started = %v, want ErrResponseStarted", err)
		}
	})
	mux.Handle("/", app())
	h := newHarness(t, session.Config{Lock: true}, mux)
	c := h.client()
	h.do(c, "POST", "/set?k=x&v=0", nil)
	h.do(c, "POST", "/stream", nil)
	if _, body, _ := h.do(c, "GET", "/keys", nil); body != "after,before,x" {
		t.Fatalf("keys = %q, want after,before,x", body)
	}
}

func TestSetCookieOnRedirectsAndErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /redirect", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("a", "1")
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("b", "2")
		http.Error(w, "nope", http.StatusInternalServerError)
	})
	h := newHarness(t, session.Config{}, mux)
	for _, p := range []string{"/redirect", "/fail", "/notfound"} {
		c := h.client()
		_, _, resp := h.do(c, "POST", p, nil)
		want := 1
		if p == "/notfound" {
			want = 0
		}
		if got := len(resp.Header.Values("Set-Cookie")); got != want {
			t.Fatalf("%s: %d Set-Cookie, want %d", p, got, want)
		}
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	st := newHarness(t, session.Config{}, nil).store
	cases := []struct {
		cfg   session.Config
		field string
	}{
		{session.Config{}, "Store"},
		{session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-x", Path: "/app"}}, "Cookie.Name"},
		{session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-x", Domain: "example.com"}}, "Cookie.Name"},
		{session.Config{Store: st, Mode: session.Mixed, Cookie: session.CookieConfig{Name: "__Secure-x"}}, "Cookie.Name"},
		{session.Config{Store: st, Cookie: session.CookieConfig{Name: "bad name"}}, "Cookie.Name"},
		{session.Config{Store: st, Grace: 2 * time.Hour}, "Grace"},
		{session.Config{Store: st, Grace: -time.Second}, "Grace"},
		{session.Config{Store: st, AbsoluteTimeout: 250 * 365 * 24 * time.Hour}, "AbsoluteTimeout"},
		{session.Config{Store: st, IdleTimeout: 250 * 365 * 24 * time.Hour}, "IdleTimeout"},
		{session.Config{Store: st, MaxAge: 250 * 365 * 24 * time.Hour}, "MaxAge"},
		{session.Config{Store: st, StaySecure: true, Mode: session.Mixed}, "HTTPSURL"},
		{session.Config{Store: st, Binding: session.Binding{IPv4Prefix: 40, IP: session.BindLog}}, "Binding.IPv4Prefix"},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			_, err := session.New(tc.cfg)
			var ce *session.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("New = %v, want a ConfigError for %s", err, tc.field)
			}
		})
	}
}

// TestConfigZeroAndNegative: Config's one rule for durations and counts,
// zero is the default and negative is off (0 in the effective config).
func TestConfigZeroAndNegative(t *testing.T) {
	st := newHarness(t, session.Config{}, nil).store
	eff := func(c session.Config) session.Config {
		t.Helper()
		c.Store = st
		m, err := session.New(c)
		if err != nil {
			t.Fatal(err)
		}
		return m.Config()
	}
	zero, neg := eff(session.Config{}), eff(session.Config{
		IdleTimeout: -1, AbsoluteTimeout: -1, MaxAge: -1, TouchInterval: -1, RotateEvery: -1,
		RotateRequests: -1, UnknownIDLimit: -1, Cookie: session.CookieConfig{Persist: -1},
	})
	cases := []struct {
		field     string
		zero, neg any
		wantZero  any
	}{
		{"IdleTimeout", zero.IdleTimeout, neg.IdleTimeout, session.DefaultIdleTimeout},
		{"AbsoluteTimeout", zero.AbsoluteTimeout, neg.AbsoluteTimeout, session.DefaultAbsoluteTimeout},
		{"MaxAge", zero.MaxAge, neg.MaxAge, time.Duration(0)},
		{"TouchInterval", zero.TouchInterval, neg.TouchInterval, session.DefaultIdleTimeout / 10},
		{"RotateEvery", zero.RotateEvery, neg.RotateEvery, session.DefaultRotateEvery},
		{"Cookie.Persist", zero.Cookie.Persist, neg.Cookie.Persist, time.Duration(0)},
		{"RotateRequests", zero.RotateRequests, neg.RotateRequests, 0},
		{"UnknownIDLimit", zero.UnknownIDLimit, neg.UnknownIDLimit, session.DefaultUnknownIDLimit},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			if tc.zero != tc.wantZero {
				t.Errorf("zero: %v, want the default %v", tc.zero, tc.wantZero)
			}
			if reflect.ValueOf(tc.neg).Int() != 0 {
				t.Errorf("negative: %v, want 0 (off)", tc.neg)
			}
		})
	}
	if g := zero.Grace; g != session.DefaultGrace {
		t.Errorf("Grace zero: %v, want %v", g, session.DefaultGrace)
	}
}

func TestActiveSessions(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	a, b, c := h.client(), h.client(), h.client()
	for _, cl := range []*http.Client{a, b, c} {
		h.do(cl, "POST", "/login?u=erin", http.Header{"User-Agent": {"Browser/" + fmt.Sprint(cl != nil)}})
	}
	h.do(h.client(), "POST", "/login?u=frank", nil)
	ctx := t.Context()
	list, err := h.m.ListUserSessions(ctx, "erin")
	if err != nil || len(list) != 3 {
		t.Fatalf("ListUserSessions = %d, %v; want 3", len(list), err)
	}
	for _, s := range list {
		if s.IP != "127.0.0.1" || s.UserAgent == "" || s.Created.IsZero() || s.LastSeen.IsZero() {
			t.Fatalf("incomplete metadata: %+v", s)
		}
	}
	if err := h.m.RevokeSession(ctx, "frank", list[0].Ref); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("revoking another user's session = %v, want ErrNotFound", err)
	}
	if err := h.m.RevokeSession(ctx, "erin", list[0].Ref); err != nil {
		t.Fatal(err)
	}
	alive := 0
	for _, cl := range []*http.Client{a, b, c} {
		if _, body, _ := h.do(cl, "GET", "/whoami", nil); body == "erin" {
			alive++
		}
	}
	if alive != 2 {
		t.Fatalf("%d sessions alive after revoking one of 3", alive)
	}
	n, err := h.m.RevokeUserSessions(ctx, "erin", "")
	if err != nil || n != 2 {
		t.Fatalf("RevokeUserSessions = %d, %v", n, err)
	}
	if _, body, _ := h.do(a, "GET", "/whoami", nil); body != "" {
		t.Fatal("session alive after revoke-all")
	}
}

func TestRotateEveryNRequests(t *testing.T) {
	h := newHarness(t, session.Config{RotateRequests: 5, RotateEvery: -1}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=cart&v=7", nil) // request 0: creates
	ids := []string{h.sid(c)}
	for range 10 {
		h.do(c, "GET", "/get?k=cart", nil)
		if id := h.sid(c); id != ids[len(ids)-1] {
			ids = append(ids, id)
		}
	}
	if len(ids) != 3 {
		t.Fatalf("10 requests with RotateRequests=5 gave %d distinct IDs, want 3 (two rotations)", len(ids))
	}
	if _, body, _ := h.do(c, "GET", "/get?k=cart", nil); body != "7" {
		t.Fatalf("data lost across rotations: %q", body)
	}
}

// TestActiveSessionsShowLatestLogin: the active-sessions list shows the
// browser of the latest sign-in, not the one that created the session.
func TestActiveSessionsShowLatestLogin(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=cart&v=1", http.Header{"User-Agent": {"Creator/1.0"}})
	h.do(c, "POST", "/login?u=gina", http.Header{"User-Agent": {"SignIn/2.0"}})
	list, err := h.m.ListUserSessions(t.Context(), "gina")
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUserSessions = %v, %v", list, err)
	}
	if list[0].UserAgent != "SignIn/2.0" {
		t.Fatalf("UserAgent = %q, want the sign-in's browser SignIn/2.0", list[0].UserAgent)
	}
}

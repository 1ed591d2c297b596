package main_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writesBackend is the upstream of the write and rotation tests. Query
// parameters drive it: set=k answers X-Replace-Session: k=1; incr adds one
// to the session's n (read-modify-write, slowly); action=a answers
// X-Session-Action: a; need=k counts the request as missing its session if
// the X-Session it was sent lacks k. The body reports the user and the
// number of keys it was sent.
type writesBackend struct {
	srv      *httptest.Server
	requests atomic.Int64
	missing  atomic.Int64
}

func newWritesBackend(t *testing.T) *writesBackend {
	b := &writesBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		vals, _ := url.ParseQuery(r.Header.Get("X-Session"))
		b.requests.Add(1)
		if k := q.Get("need"); k != "" && vals.Get(k) == "" {
			b.missing.Add(1)
		}
		if k := q.Get("set"); k != "" {
			w.Header().Add("X-Replace-Session", url.QueryEscape(k)+"=1")
		}
		if q.Has("incr") {
			n, _ := strconv.Atoi(vals.Get("n"))
			time.Sleep(2 * time.Millisecond) // widen the read-modify-write window
			w.Header().Add("X-Replace-Session", "n="+strconv.Itoa(n+1))
		}
		if a := q.Get("action"); a != "" {
			w.Header().Set("X-Session-Action", a)
		}
		fmt.Fprintf(w, "user=%s\nkeys=%d\nn=%s\n", r.Header.Get("X-Session-User"), len(vals), vals.Get("n"))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// serverStores are gatewayStores without the cookie store (merges,
// rotation and locks are about server-side records).
func serverStores() []storeCase {
	var out []storeCase
	for _, st := range gatewayStores {
		if st.name != "cookie" {
			out = append(out, st)
		}
	}
	return out
}

// burstClient is a client for many concurrent requests: up to 100
// connections at once (HTTP/1.1), the other requests queue in the client
// (more connections only measure TLS handshakes on a loaded machine).
func burstClient() *http.Client {
	c := client()
	tr := c.Transport.(*http.Transport).Clone()
	tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = 100, 100
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get sends one request with the session cookie (if any) and returns the
// status, the body and the session cookie the response set ("" if none).
func get(c *http.Client, u, sid string) (int, string, string, error) {
	req, _ := http.NewRequest("GET", u, nil)
	if sid != "" {
		req.Header.Set("Cookie", "__Host-sid="+sid)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	set := ""
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-sid" {
			set = ck.Value
		}
	}
	return resp.StatusCode, string(body), set, nil
}

// startSession makes a session on w.localhost (key first) and returns its ID.
func startSession(t *testing.T, c *http.Client, g gateway) string {
	t.Helper()
	_, _, sid, err := get(c, g.url("w.localhost", "/?set=first"), "")
	if err != nil || sid == "" {
		t.Fatalf("first request: %v, cookie %q", err, sid)
	}
	return sid
}

func bodyField(body, name string) string {
	_, rest, _ := strings.Cut(body, name+"=")
	v, _, _ := strings.Cut(rest, "\n")
	return v
}

// TestThousandConcurrentBackendWrites, through the built binary: 1,000 concurrent requests on one
// session, each setting its own key with X-Replace-Session, all succeed
// and all 1,000 keys are there.
func TestThousandConcurrentBackendWrites(t *testing.T) {
	bin := buildSessiond(t)
	b := newWritesBackend(t)
	for _, st := range serverStores() {
		t.Run(st.name, func(t *testing.T) {
			g := startGatewayConfig(t, bin, st, "", fmt.Sprintf("  - hosts: [w.localhost]\n    upstream: %s\n", b.srv.URL))
			c := burstClient()
			sid := startSession(t, c, g)
			const n = 1000
			var ok atomic.Int64
			var wg sync.WaitGroup
			var firstErr sync.Once
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					code, body, _, err := get(c, g.url("w.localhost", fmt.Sprintf("/?set=k%d", i)), sid)
					if err != nil || code != http.StatusOK {
						firstErr.Do(func() { t.Errorf("request %d: %v %d %q", i, err, code, body) })
						return
					}
					ok.Add(1)
				})
			}
			close(start)
			wg.Wait()
			_, body, _, err := get(c, g.url("w.localhost", "/"), sid)
			if err != nil {
				t.Fatal(err)
			}
			if keys := bodyField(body, "keys"); ok.Load() != n || keys != strconv.Itoa(n+1) {
				t.Fatalf("%d of %d requests succeeded; the session has %s keys, want %d", ok.Load(), n, keys, n+1)
			}
		})
	}
}

// TestSessionLockSerialisesReadModifyWrite: with session.lock the requests
// of one session run one at a time, so a backend's read-modify-write of one
// key (a counter) loses no update; the key reaches the gateway's config.
func TestSessionLockSerialisesReadModifyWrite(t *testing.T) {
	bin := buildSessiond(t)
	b := newWritesBackend(t)
	for _, st := range serverStores() {
		t.Run(st.name, func(t *testing.T) {
			g := startGatewayConfig(t, bin, st, "", fmt.Sprintf(
				"  - hosts: [w.localhost]\n    upstream: %s\n    session: {lock: true}\n", b.srv.URL))
			c := burstClient()
			sid := startSession(t, c, g)
			const n = 30
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					if code, _, _, err := get(c, g.url("w.localhost", "/?incr"), sid); err != nil || code != 200 {
						t.Errorf("incr: %v %d", err, code)
					}
				})
			}
			wg.Wait()
			_, body, _, _ := get(c, g.url("w.localhost", "/"), sid)
			if got := bodyField(body, "n"); got != strconv.Itoa(n) {
				t.Fatalf("counter after %d locked read-modify-writes = %s, want %d (updates lost: not serialised)", n, got, n)
			}
		})
	}
}

// TestConcurrentLoginsAllSignedIn: simultaneous successful
// logins on one session each answer with cookies that are signed in, in
// HTTPS-only and in mixed mode (where a login replaces both the secure
// and the insecure ID). A login that starts after another one finished
// presents a pre-login ID and is refused (its form belongs to the old
// session), never answered with a cookie that is not signed in; rounds
// repeat until logins overlapped (two or more succeeded in one round).
func TestConcurrentLoginsAllSignedIn(t *testing.T) {
	bin := buildSessiond(t)
	b := newWritesBackend(t)
	for _, st := range serverStores() {
		for _, mode := range []string{"https-only", "mixed"} {
			t.Run(st.name+"/"+mode, func(t *testing.T) {
				g := startGatewayConfig(t, bin, st, "", fmt.Sprintf(
					"  - hosts: [w.localhost]\n    upstream: %s\n    session: {mode: %s}\n"+
						"    auth: {htpasswd: {users}, rate_limit: {per_user: {attempts: 1000, per: 1m}}}\n", b.srv.URL, mode))
				best := 0
				for round := 0; round < 10 && best < 2; round++ {
					best = max(best, concurrentLogins(t, g))
				}
				if best < 2 {
					t.Fatal("in 10 rounds no two logins overlapped: the race was not tested")
				}
			})
		}
	}
}

// concurrentLogins runs one round of 5 simultaneous logins on one fresh
// session (every browser holds the same session cookies) and returns how
// many succeeded, failing the test for a success whose cookies are not
// signed in or are the pre-login ones.
func concurrentLogins(t *testing.T, g gateway) int {
	first := web{t, client()}
	first.do("GET", g.url("w.localhost", "/?set=cart"), nil)
	u, _ := url.Parse(g.url("w.localhost", "/"))
	before := first.c.Jar.Cookies(u)
	if len(before) == 0 {
		t.Fatal("no session")
	}
	const n = 5
	pages := make([]web, n)
	tokens := make([]string, n)
	for i := range pages {
		jar, _ := cookiejar.New(nil)
		for _, c := range before {
			jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Secure: true, Path: "/"}})
		}
		c := client()
		c.Jar = jar
		pages[i] = web{t, c}
		_, page := pages[i].do("GET", g.url("w.localhost", "/login"), nil)
		tokens[i] = field(page, "csrf_token")
	}
	loginPage := pages[0].c.Jar.Cookies(u) // the session the login forms belong to
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make([]int, n)
	for i := range pages {
		wg.Go(func() {
			<-start
			resp, _ := pages[i].do("POST", g.url("w.localhost", "/login"), url.Values{"csrf_token": {tokens[i]},
				"username": {"alice"}, "password": {"alice-pw"}, "next": {"/"}})
			codes[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, w := range pages {
		switch codes[i] {
		case http.StatusSeeOther:
			ok++
		case http.StatusForbidden:
			continue // started after another login ended: its form was the old session's
		default:
			t.Errorf("login %d = %d, want 303 (or 403 for a login after another one)", i, codes[i])
			continue
		}
		for _, old := range loginPage {
			if jarCookie(w, g, "w.localhost", old.Name) == old.Value {
				t.Errorf("login %d kept the pre-login cookie %s (fixation)", i, old.Name)
			}
		}
		if who := whoAmI(w, g, "w.localhost"); who != "alice" {
			t.Errorf("login %d answered 303 but its cookies are signed in as %q, want alice", i, who)
		}
	}
	// The pre-login IDs never reach the signed-in session.
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, loginPage)
	c := client()
	c.Jar = jar
	if who := whoAmI(web{t, c}, g, "w.localhost"); who != "" {
		t.Fatalf("pre-login cookies after the logins see user %q", who)
	}
	return ok
}

// TestWritesSeenAcrossGateways: two gateway processes on one store (one
// SQLite file, one Redis) take turns modifying one session. Each keeps
// what it read and wrote in memory (the SQLite store's read cache, the
// Redis store's ref hints), which must never hide the other's write: every
// request reads the count the other gateway left, and a logout on one
// ends the session on the other at once.
func TestWritesSeenAcrossGateways(t *testing.T) {
	bin := buildSessiond(t)
	b := newWritesBackend(t)
	for _, st := range serverStores() {
		t.Run(st.name, func(t *testing.T) {
			var storeYAML string
			shared := storeCase{st.name, func(t *testing.T, dir string) string {
				if storeYAML == "" {
					storeYAML = st.yaml(t, dir)
				}
				return storeYAML
			}}
			site := fmt.Sprintf("  - hosts: [w.localhost]\n    upstream: %s\n", b.srv.URL)
			gws := []gateway{startGatewayConfig(t, bin, shared, "", site), startGatewayConfig(t, bin, shared, "", site)}
			c := burstClient()
			sid := startSession(t, c, gws[0])
			request := func(g int, path string) string {
				t.Helper()
				code, body, nu, err := get(c, gws[g].url("w.localhost", path), sid)
				if err != nil || code != http.StatusOK {
					t.Fatalf("gateway %d %s: %v %d %q", g, path, err, code, body)
				}
				if nu != "" {
					sid = nu
				}
				return body
			}
			const turns = 20
			for i := range turns {
				g := i % 2
				want := strconv.Itoa(i)
				if i == 0 {
					want = ""
				}
				if got := bodyField(request(g, "/?incr"), "n"); got != want {
					t.Fatalf("increment %d on gateway %d read n=%q, want %q: the other gateway's write is not seen", i+1, g, got, want)
				}
				if got := bodyField(request(g, "/"), "n"); got != strconv.Itoa(i+1) {
					t.Fatalf("after increment %d gateway %d reads n=%q, want %d", i+1, g, got, i+1)
				}
			}
			for g := range gws {
				if got := bodyField(request(g, "/"), "n"); got != strconv.Itoa(turns) {
					t.Fatalf("gateway %d reads n=%q after %d increments", g, got, turns)
				}
			}
			request(1, "/?action=logout")
			if keys := bodyField(request(0, "/?need=n"), "keys"); keys != "0" {
				t.Fatalf("after a logout on gateway 1, gateway 0 still serves the session (%s keys)", keys)
			}
		})
	}
}

package main_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
)

// loadDuration is how long each load run lasts: SESSIOND_LOAD_DURATION
// (e.g. 20s, the figure) or 3 s, so that .ci/run stays bounded.
func loadDuration(t *testing.T) time.Duration {
	if v := os.Getenv("SESSIOND_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 10*time.Minute {
			t.Fatalf("SESSIOND_LOAD_DURATION=%q: want a duration up to 10m", v)
		}
		return d
	}
	return 3 * time.Second
}

// TestLoadSoftRotationNoLogouts: 50 clients on one session,
// each following the cookies it is sent, while the ID rotates every 20
// requests, every 2 s, or by a regenerate action every 500 ms: no request
// fails and none reaches the backend without its session. On SQLite and
// Redis, loopback only, bounded by loadDuration.
func TestLoadSoftRotationNoLogouts(t *testing.T) {
	bin := buildSessiond(t)
	dur := loadDuration(t)
	for _, st := range serverStores() {
		for _, kind := range []struct {
			name, session string
			regenerate    bool
			every         int // requests per rotation (0: not by count)
		}{
			{"rotate_requests", "{rotate_requests: 20, rotate_every: 0s}", false, 20},
			// grace must be shorter than rotate_every; the longest it can be.
			{"rotate_every", "{rotate_every: 2s, grace: 1900ms}", false, 0},
			{"regenerate_action", "{rotate_every: 0s}", true, 0},
		} {
			t.Run(st.name+"/"+kind.name, func(t *testing.T) {
				b := newWritesBackend(t)
				g := startGatewayConfig(t, bin, st, "", fmt.Sprintf(
					"  - hosts: [w.localhost]\n    upstream: %s\n    session: %s\n", b.srv.URL, kind.session))
				done, ids := runLoad(t, g, b, dur, kind.regenerate)
				// Every request is counted, also concurrent ones; concurrent
				// rotations coalesce, so allow for a quarter of the ideal.
				if kind.every > 0 && ids < int(done)/kind.every/4 {
					t.Fatalf("%d IDs for %d requests with rotate_requests: %d: requests are not all counted", ids, done, kind.every)
				}
			})
		}
	}
}

// runLoad runs the load and returns how many requests were made and how
// many distinct IDs the clients were given.
func runLoad(t *testing.T, g gateway, b *writesBackend, dur time.Duration, regenerate bool) (int64, int) {
	seed := web{t, client()}
	seed.do("GET", g.url("w.localhost", "/?set=m"), nil)
	sid := sessionCookie(seed, g, "w.localhost")
	if sid == "" {
		t.Fatal("no session")
	}
	b.requests.Store(0)
	b.missing.Store(0)
	u, _ := url.Parse(g.url("w.localhost", "/"))
	var (
		errs, done atomic.Int64
		idsMu      sync.Mutex
		ids        = map[string]bool{sid: true}
		firstErr   sync.Once
		wg         sync.WaitGroup
	)
	deadline := time.Now().Add(dur)
	worker := func(path string, every time.Duration) {
		jar, _ := cookiejar.New(nil)
		jar.SetCookies(u, []*http.Cookie{{Name: "__Host-sid", Value: sid, Secure: true, Path: "/"}})
		c := client()
		c.Jar = jar
		for time.Now().Before(deadline) {
			resp, err := c.Get(g.url("w.localhost", path))
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				errs.Add(1)
				firstErr.Do(func() {
					if err != nil {
						t.Errorf("request failed: %v", err)
					} else {
						t.Errorf("request failed: %s", resp.Status)
					}
				})
			}
			done.Add(1)
			for _, ck := range jar.Cookies(u) {
				if ck.Name == "__Host-sid" {
					idsMu.Lock()
					ids[ck.Value] = true
					idsMu.Unlock()
				}
			}
			time.Sleep(every)
		}
	}
	for range 50 {
		wg.Go(func() { worker("/?need=m", 0) })
	}
	if regenerate {
		wg.Go(func() { worker("/?need=m&action=regenerate", 500*time.Millisecond) })
	}
	wg.Wait()
	t.Logf("%d requests in %v, %d IDs seen, %d errors, %d reached the backend without their session",
		done.Load(), dur, len(ids), errs.Load(), b.missing.Load())
	if errs.Load() != 0 || b.missing.Load() != 0 {
		t.Fatalf("%d errors and %d requests without their session, want 0 and 0", errs.Load(), b.missing.Load())
	}
	if len(ids) < 2 {
		t.Fatal("the ID never rotated during the run: nothing was tested")
	}
	return done.Load(), len(ids)
}

// TestSoftRotationAcrossGateways: three gateway processes on one
// Redis. After each kind of soft rotation on gateway A — the regenerate
// action, rotate_requests, rotate_every — the old ID still works on
// gateway B within the grace window and leads to the new ID; after the
// window its use on gateway C is theft: refused, audited, and the session
// is revoked (the default action) on every gateway.
func TestSoftRotationAcrossGateways(t *testing.T) {
	bin := buildSessiond(t)
	b := newWritesBackend(t)
	u, err := url.Parse(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	var x [1]byte
	rand.Read(x[:])
	u.Path = fmt.Sprintf("/%d", 1+int(x[0])%15)
	t.Setenv("TEST_REDIS_URL", u.String())
	shared := storeCase{"redis", func(*testing.T, string) string { return "  redis: {url_env: TEST_REDIS_URL}\n" }}
	sites := fmt.Sprintf(`  - hosts: [r.localhost]
    upstream: %[1]s
    session: {rotate_every: 0s, grace: 2s}
  - hosts: [n.localhost]
    upstream: %[1]s
    session: {rotate_every: 0s, rotate_requests: 3, grace: 2s}
  - hosts: [e.localhost]
    upstream: %[1]s
    session: {rotate_every: 1s, grace: 900ms}
`, b.srv.URL)
	var gws [3]gateway
	var audits [3]string
	for i := range gws {
		audits[i] = filepath.Join(t.TempDir(), "audit.log")
		gws[i] = startGatewayConfig(t, bin, shared, fmt.Sprintf("audit: {log: %s}\n", audits[i]), sites)
	}
	raw := &http.Client{Transport: client().Transport}
	for _, tc := range []struct {
		host   string
		rotate func(g gateway, sid string) string // returns the new ID
		grace  time.Duration
	}{
		{"r.localhost", func(g gateway, sid string) string {
			_, _, nu, _ := get(raw, g.url("r.localhost", "/?action=regenerate"), sid)
			return nu
		}, 2 * time.Second},
		{"n.localhost", func(g gateway, sid string) string {
			for range 5 {
				if _, _, nu, _ := get(raw, g.url("n.localhost", "/"), sid); nu != "" && nu != sid {
					return nu
				}
			}
			return ""
		}, 2 * time.Second},
		{"e.localhost", func(g gateway, sid string) string {
			time.Sleep(1100 * time.Millisecond)
			_, _, nu, _ := get(raw, g.url("e.localhost", "/"), sid)
			return nu
		}, 900 * time.Millisecond},
	} {
		t.Run(tc.host, func(t *testing.T) {
			_, _, old, err := get(raw, gws[0].url(tc.host, "/?set=m"), "")
			if err != nil || old == "" {
				t.Fatalf("no session: %v", err)
			}
			nu := tc.rotate(gws[0], old)
			if nu == "" || nu == old {
				t.Fatal("no rotation on gateway A")
			}
			code, body, led, err := get(raw, gws[1].url(tc.host, "/?need=m"), old)
			if err != nil || code != http.StatusOK || bodyField(body, "keys") == "0" || led != nu {
				t.Fatalf("old ID on gateway B within grace: %v %d keys=%s, led to the new ID: %v (want the session and the new ID)",
					err, code, bodyField(body, "keys"), led == nu)
			}
			time.Sleep(tc.grace + 300*time.Millisecond)
			before := strings.Count(readFile(t, audits[2]), `"session.obsolete_id"`)
			_, body, _, _ = get(raw, gws[2].url(tc.host, "/?need=m"), old)
			if bodyField(body, "keys") != "0" {
				t.Fatalf("old ID on gateway C after grace still reaches the session (keys=%s)", bodyField(body, "keys"))
			}
			if after := strings.Count(readFile(t, audits[2]), `"session.obsolete_id"`); after != before+1 {
				t.Fatalf("use after grace not audited as theft on gateway C (%d events, want %d)", after, before+1)
			}
			if _, body, _, _ = get(raw, gws[0].url(tc.host, "/?need=m"), nu); bodyField(body, "keys") != "0" {
				t.Fatalf("after the theft signal the current ID still works on gateway A (keys=%s): not revoked", bodyField(body, "keys"))
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	for range 50 { // the audit line is written as the response goes out
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ""
}

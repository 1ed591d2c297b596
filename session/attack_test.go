package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
)

var cookieRE = regexp.MustCompile(`^__Host-sid=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; Secure; SameSite=Lax$`)

func TestCookieAttributes(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	c := h.client()
	_, _, resp := h.do(c, "POST", "/set?k=a&v=1", nil)
	lines := resp.Header.Values("Set-Cookie")
	if len(lines) != 1 || !cookieRE.MatchString(lines[0]) {
		t.Fatalf("Set-Cookie = %q, want one line matching %s", lines, cookieRE)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := resp.Header.Get("Vary"); got != "Cookie" {
		t.Errorf("Vary = %q, want Cookie", got)
	}
}

func TestLazySessions(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	c := h.client()
	_, _, resp := h.do(c, "GET", "/get?k=a", nil)
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("an anonymous read set a cookie: %q", sc)
	}
	if h.store.writes() != 0 || h.store.Len() != 0 {
		t.Fatalf("an anonymous read wrote %d times", h.store.writes())
	}
}

func TestSessionKeepsData(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=cart&v=1,2", nil)
	h.do(c, "POST", "/set?k=name&v=Zo%C3%AB", nil)
	if _, body, _ := h.do(c, "GET", "/get?k=cart", nil); body != "1,2" {
		t.Fatalf("cart = %q", body)
	}
	if _, body, _ := h.do(c, "GET", "/keys", nil); body != "cart,name" {
		t.Fatalf("keys = %q", body)
	}
	if h.store.Len() != 1 {
		t.Fatalf("%d records, want 1", h.store.Len())
	}
}

func TestFixationRefused(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	attackerID, attackerHash := token.New() // well-formed, never issued
	c := h.rawClient()
	hdr := cookieHeader("__Host-sid", attackerID)
	_, _, resp := h.do(c, "POST", "/login?u=victim", hdr)
	var issued string
	for _, ck := range setCookies(resp) {
		if ck.Name == "__Host-sid" {
			issued = ck.Value
		}
	}
	if issued == "" || issued == attackerID {
		t.Fatalf("issued ID %q; want a fresh one, not the attacker's", issued)
	}
	if _, err := h.store.Load(context.Background(), attackerHash); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("attacker's ID was adopted into the store: %v", err)
	}
	if _, body, _ := h.do(c, "GET", "/whoami", hdr); body != "" {
		t.Fatalf("attacker's ID sees user %q", body)
	}
	if _, body, _ := h.do(c, "GET", "/whoami", cookieHeader("__Host-sid", issued)); body != "victim" {
		t.Fatalf("victim's new ID sees user %q", body)
	}
}

func TestReplayAfterLogout(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=cart&v=7", nil)
	h.do(c, "POST", "/login?u=alice", nil)
	stolen := h.sid(c)
	_, _, resp := h.do(c, "POST", "/logout", nil)
	lines := resp.Header.Values("Set-Cookie")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "__Host-sid=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax") {
		t.Fatalf("logout Set-Cookie = %q; want the cookie cleared with the same attributes", lines)
	}
	if got := resp.Header.Get("Clear-Site-Data"); got != `"cookies"` {
		t.Errorf("Clear-Site-Data = %q", got)
	}
	if h.store.Len() != 0 {
		t.Fatalf("record still on the server after logout")
	}
	rc := h.rawClient()
	for _, path := range []string{"/whoami", "/get?k=cart"} {
		if _, body, _ := h.do(rc, "GET", path, cookieHeader("__Host-sid", stolen)); body != "" {
			t.Fatalf("replayed ID after logout: %s = %q", path, body)
		}
	}
}

func TestIDOnlyFromCookie(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=secret&v=42", nil)
	id := h.sid(c)
	rc := h.rawClient()
	cases := map[string]struct {
		path string
		hdr  http.Header
	}{
		"query":         {"/get?k=secret&__Host-sid=" + id + "&sid=" + id, nil},
		"custom header": {"/get?k=secret", http.Header{"X-Session-Id": {id}, "Authorization": {"Bearer " + id}}},
		"form-ish path": {"/get?k=secret&PHPSESSID=" + id, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, body, _ := h.do(rc, "GET", tc.path, tc.hdr); body != "" {
				t.Fatalf("ID outside the cookie was used: got %q", body)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	cases := []struct {
		name    string
		cfg     session.Config
		steps   []time.Duration // request after each step
		wantAll bool            // session still alive at the end
	}{
		{"idle within", session.Config{IdleTimeout: 10 * time.Minute}, []time.Duration{9 * time.Minute, 9 * time.Minute, 9 * time.Minute}, true},
		{"idle exceeded", session.Config{IdleTimeout: 10 * time.Minute}, []time.Duration{11 * time.Minute}, false},
		{"absolute despite activity", session.Config{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour},
			[]time.Duration{9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute}, false},
		{"maxage slides with every save", session.Config{IdleTimeout: -1, MaxAge: 20 * time.Minute}, []time.Duration{15 * time.Minute, 15 * time.Minute, 15 * time.Minute}, true},
		{"maxage exceeded", session.Config{IdleTimeout: -1, MaxAge: 20 * time.Minute}, []time.Duration{21 * time.Minute}, false},
		{"no expiry", session.Config{IdleTimeout: -1, AbsoluteTimeout: -1}, []time.Duration{1000 * time.Hour}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.RotateEvery = -1
			h := newHarness(t, tc.cfg, nil)
			c := h.client()
			h.do(c, "POST", "/set?k=a&v=1", nil)
			got := "1"
			for _, d := range tc.steps {
				h.clock.Advance(d)
				_, got, _ = h.do(c, "GET", "/get?k=a", nil)
			}
			if alive := got == "1"; alive != tc.wantAll {
				t.Fatalf("alive = %v, want %v", alive, tc.wantAll)
			}
			if !tc.wantAll {
				// Expired behaves like unknown: a new write gets a new ID.
				old := h.sid(c)
				h.do(c, "POST", "/set?k=b&v=2", nil)
				if h.sid(c) == old {
					t.Fatal("expired ID was revived instead of replaced")
				}
			}
		})
	}
}

func TestReadOnlyRequestsDoNotWrite(t *testing.T) {
	h := newHarness(t, session.Config{IdleTimeout: 30 * time.Minute, RotateEvery: -1}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=a&v=1", nil)
	before := h.store.writes()
	for range 100 {
		h.clock.Advance(time.Second)
		h.do(c, "GET", "/get?k=a", nil)
	}
	if n := h.store.writes() - before; n != 0 {
		t.Fatalf("100 read-only requests inside the touch interval wrote %d times, want 0", n)
	}
	h.clock.Advance(3 * time.Minute) // past the touch interval (30m/10)
	h.do(c, "GET", "/get?k=a", nil)
	h.do(c, "GET", "/get?k=a", nil)
	if n := h.store.writes() - before; n != 1 {
		t.Fatalf("after the touch interval: %d writes, want exactly 1 touch", n)
	}
}

func TestStoreDownIs503AndNothingLost(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	c := h.client()
	h.do(c, "POST", "/set?k=cart&v=1,2,3", nil)
	id := h.sid(c)
	h.store.down.Store(true)
	for _, tc := range []struct{ method, path string }{{"GET", "/get?k=cart"}, {"POST", "/set?k=cart&v="}} {
		code, body, resp := h.do(c, tc.method, tc.path, nil)
		if code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s with the store down = %d %q, want 503", tc.method, tc.path, code, body)
		}
		if len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Fatal("a cookie was set while the store was down (a new, empty session?)")
		}
	}
	// A new visitor's write also gets 503, not a cookie for a session that was never stored.
	if code, _, _ := h.do(h.client(), "POST", "/set?k=x&v=1", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("new session with the store down = %d, want 503", code)
	}
	h.store.down.Store(false)
	if _, body, _ := h.do(c, "GET", "/get?k=cart", nil); body != "1,2,3" || h.sid(c) != id {
		t.Fatalf("after recovery: cart %q (same ID: %v); want the cart intact", body, h.sid(c) == id)
	}
}

func TestCookieTossing(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	victim, attacker := h.client(), h.client()
	h.do(victim, "POST", "/login?u=victim", nil)
	h.do(attacker, "POST", "/login?u=attacker", nil)
	v, a := h.sid(victim), h.sid(attacker)
	rc := h.rawClient()
	cases := map[string]http.Header{
		"attacker first":    {"Cookie": {"__Host-sid=" + a + "; __Host-sid=" + v}},
		"victim first":      {"Cookie": {"__Host-sid=" + v + "; __Host-sid=" + a}},
		"split headers a,v": {"Cookie": {"__Host-sid=" + a, "__Host-sid=" + v}},
		"split headers v,a": {"Cookie": {"__Host-sid=" + v, "__Host-sid=" + a}},
	}
	for name, hdr := range cases {
		t.Run(name, func(t *testing.T) {
			if _, body, _ := h.do(rc, "GET", "/whoami", hdr); body != "" {
				t.Fatalf("two same-named cookies resolved to user %q", body)
			}
		})
	}
	if h.auditor().Count("session.duplicate_cookie") != len(cases) {
		t.Errorf("duplicate cookies not audited each time")
	}
}

func TestHostileIDValues(t *testing.T) {
	h := newHarness(t, session.Config{UnknownIDLimit: -1}, nil)
	rc := h.rawClient()
	good, _ := token.New()
	cases := map[string]string{
		"dot dot":   "../../../etc/passwd",
		"NUL":       good[:10] + "\x00" + good[11:],
		"16KB":      strings.Repeat("A", 16<<10),
		"non UTF-8": good[:10] + "\xff\xfe" + good[12:],
		"quoted":    `"` + good[:41] + `"`,
		"SQL":       "' OR 1=1 --",
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			before := h.store.loads.Load()
			req, _ := http.NewRequest("GET", h.srv.URL+"/get?k=a", nil)
			req.Header["Cookie"] = []string{"__Host-sid=" + v}
			resp, err := rc.Do(req)
			if err != nil {
				// net/http refuses to send some of these at all: nothing reached us.
				return
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if n := h.store.loads.Load() - before; n != 0 {
				t.Fatalf("a malformed ID reached the store (%d loads)", n)
			}
		})
	}
}

func TestOversizedCookieHeader(t *testing.T) {
	h := newHarness(t, session.Config{}, nil)
	rc := h.rawClient()
	req, _ := http.NewRequest("GET", h.srv.URL+"/get?k=a", nil)
	req.Header.Set("Cookie", "__Host-sid="+strings.Repeat("A", 64<<10))
	h.srv.Config.MaxHeaderBytes = 16 << 10
	resp, err := rc.Do(req)
	if err != nil {
		t.Fatalf("64 KB Cookie header: %v (want a clean 431)", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge && resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("64 KB Cookie header = %d, want 431 or 400", resp.StatusCode)
	}
}

func TestBruteForceThrottled(t *testing.T) {
	h := newHarness(t, session.Config{
		UnknownIDLimit: 20,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}, nil)
	rc := h.rawClient()
	bystander := h.client()
	h.do(bystander, "POST", "/set?k=a&v=1", nil)
	code := 0
	for i := range 25 {
		id, _ := token.New()
		hdr := cookieHeader("__Host-sid", id)
		hdr.Set("X-Forwarded-For", "198.51.100.7")
		code, _, _ = h.do(rc, "GET", "/get?k=a", hdr)
		if i < 20 && code != http.StatusOK {
			t.Fatalf("guess %d refused early with %d", i, code)
		}
	}
	if code != http.StatusTooManyRequests {
		t.Fatalf("after 25 unknown IDs: %d, want 429", code)
	}
	if h.auditor().Count("session.id_bruteforce") != 1 {
		t.Fatalf("brute force audited %d times, want once", h.auditor().Count("session.id_bruteforce"))
	}
	if _, body, _ := h.do(bystander, "GET", "/get?k=a", nil); body != "1" {
		t.Fatalf("another client was affected: %q", body)
	}
}

func TestPlainHTTPHasNoSessionInHTTPSOnlyMode(t *testing.T) {
	// The harness server is HTTPS; a request claiming HTTPS through an
	// untrusted X-Forwarded-Proto is not believed by the manager.
	m, err := session.New(session.Config{Store: newHarness(t, session.Config{}, nil).store})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "http://example.test/", nil)
	r.RemoteAddr = "203.0.113.9:1234"
	r.Header.Set("X-Forwarded-Proto", "https")
	if m.IsSecure(r) {
		t.Fatal("X-Forwarded-Proto from an untrusted peer was believed")
	}
}

package main_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// plantedInHints is the value of the cookies a hostile backend plants in
// its 103.
const plantedInHints = "planted-in-103"

// newHintsUpstream is a backend that answers every /hints path with a
// 103 Early Hints (a Link, and Set-Cookie lines for the gateway's session
// and remember-me cookies) before its final response; like newUpstream it
// echoes the session and acts on ?replace= and ?action=.
func newHintsUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if strings.HasPrefix(r.URL.Path, "/hints") {
			h.Add("Link", "</style.css>; rel=preload; as=style")
			h.Add("Set-Cookie", "__Host-sid="+plantedInHints+"; Path=/; Secure")
			h.Add("Set-Cookie", "__Host-remember="+plantedInHints+"; Path=/; Secure")
			w.WriteHeader(http.StatusEarlyHints)
			clear(h) // net/http keeps a 1xx's header for the final response
		}
		for _, v := range r.URL.Query()["replace"] {
			h.Add("X-Replace-Session", v)
		}
		for _, v := range r.URL.Query()["action"] {
			h.Add("X-Session-Action", v)
		}
		fmt.Fprintf(w, "session=%s\nuser=%s\n", r.Header.Get("X-Session"), r.Header.Get("X-Session-User"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// interim is one 1xx response the client received.
type interim struct {
	code   int
	header textproto.MIMEHeader
}

// tracedDo sends a request from w and returns the final response, its
// body and every 1xx response that came before it.
func tracedDo(w web, method, rawURL string) (*http.Response, string, []interim) {
	w.t.Helper()
	var mu sync.Mutex
	var got []interim
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			mu.Lock()
			got = append(got, interim{code, textproto.MIMEHeader(http.Header(h).Clone())})
			mu.Unlock()
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if method == http.MethodPost {
		req.Header.Set("Origin", "https://"+req.URL.Host)
	}
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	mu.Lock()
	defer mu.Unlock()
	return resp, string(b), got
}

// setCookieValue is the value h sets for the cookie name and whether it
// sets one.
func setCookieValue(h http.Header, name string) (string, bool) {
	for _, l := range h.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(l); err == nil && strings.EqualFold(c.Name, name) {
			return c.Value, true
		}
	}
	return "", false
}

// cookieNames are the names of the cookies h sets (never their values).
func cookieNames(h http.Header) []string {
	var names []string
	for _, l := range h.Values("Set-Cookie") {
		name, _, _ := strings.Cut(l, "=")
		names = append(names, name)
	}
	return names
}

// checkInterims: the backend's 103 reached the client, and no 1xx carried
// a cookie of the given names (the site's session and remember-me
// cookies: the gateway's own, or ones the backend planted).
func checkInterims(t *testing.T, what string, got []interim, names ...string) {
	t.Helper()
	hints := false
	for _, in := range got {
		if in.code == http.StatusEarlyHints && strings.Contains(strings.Join(in.header.Values("Link"), ","), "/style.css") {
			hints = true
		}
		for _, name := range names {
			if v, ok := setCookieValue(http.Header(in.header), name); ok {
				whose := "the gateway's own"
				if v == plantedInHints {
					whose = "the backend's planted one"
				}
				t.Errorf("%s: a %d response set the cookie %s (%s)", what, in.code, name, whose)
			}
		}
	}
	if !hints {
		t.Errorf("%s: the backend's 103 Early Hints did not reach the client (1xx seen: %d)", what, len(got))
	}
}

// TestAttackEarlyHintsKeepGatewayHeaders, against the
// built binary on each store with two sites on one gateway: a backend's
// 103 Early Hints neither carries the gateway's session and remember-me
// cookies (nor the ones it plants in the 103) to the client, nor wipes
// them from the final response. A remember-me key rotated on the request
// still reaches the browser, whose next use of it signs in without being
// taken for theft; a fresh or rotated session cookie arrives on the final
// response; the line expiring a migrated Apache cookie does too.
func TestAttackEarlyHintsKeepGatewayHeaders(t *testing.T) {
	bin := buildSessiond(t)
	up := newHintsUpstream(t)
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			alice := "alice-" + strings.ToLower(rand.Text()[:8]) // the store may keep other runs' users
			pass := filepath.Join(t.TempDir(), "apache-passphrases")
			if err := os.WriteFile(pass, []byte("apache migration secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			audit := filepath.Join(t.TempDir(), "audit.log")
			g := startGatewayConfig(t, bin, st, "audit: {log: "+audit+"}\n", fmt.Sprintf(`
  - name: a
    hosts: [a.localhost]
    upstream: %[1]s
    auth: {htpasswd: {users}, remember: {enabled: true, lifetime: 720h, reuse_grace: 1s}}
  - name: b
    hosts: [b.localhost]
    upstream: %[1]s
    auth: {htpasswd: {users}}
    modcrypto: {passphrase_file: %[2]s, cookie_name: session, auth_name: members}
`, up.URL, pass), func(path string) { addUser(t, bin, path, alice, "alice-pw") })
			const a, b = "a.localhost", "b.localhost"
			siteA := []string{"__Host-sid", "__Host-remember"} // site a's session and remember-me cookies

			t.Run("remember-me rotation", func(t *testing.T) {
				first := web{t, client()}
				if resp := loginRemember(first, g, a, alice, "alice-pw", true); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("login = %d", resp.StatusCode)
				}
				key := rememberCookie(first, g, a)
				if key == "" {
					t.Fatal("a ticked login set no remember cookie")
				}
				// The browser comes back with only its remember cookie, on
				// a page whose backend sends a 103 first.
				back := withOnly(t, g, a, key)
				resp, body, got := tracedDo(back, http.MethodGet, g.url(a, "/hints/page"))
				checkInterims(t, "remember-me sign-in", got, siteA...)
				if !strings.Contains(body, "user="+alice+"\n") {
					t.Fatalf("the remember cookie did not sign in behind a 103: %d %q", resp.StatusCode, body)
				}
				if v, ok := setCookieValue(resp.Header, "__Host-remember"); !ok || v == "" || v == key || v == plantedInHints {
					t.Errorf("the final response after a 103 does not set the rotated remember key (set: %v); its cookies: %q",
						ok, cookieNames(resp.Header))
				}
				if v, ok := setCookieValue(resp.Header, "__Host-sid"); !ok || v == "" || v == plantedInHints {
					t.Errorf("the final response after a 103 sets no session cookie of the gateway's; its cookies: %q", cookieNames(resp.Header))
				}
				// The browser restarts after the reuse grace and presents the
				// key it holds: it signs in, and nothing is taken for theft.
				time.Sleep(1100 * time.Millisecond)
				held := rememberCookie(back, g, a)
				if who := whoAmI(withOnly(t, g, a, held), g, a); who != alice {
					t.Errorf("the remember key the browser holds after the 103 signs in as %q, want %s (key rotated: %v)", who, alice, held != key)
				}
				for name, w := range map[string]web{"the first browser": first, "the remembered browser": back} {
					if who := whoAmI(w, g, a); who != alice {
						t.Errorf("after the 103, %s is signed in as %q, want %s (signed out as theft?)", name, who, alice)
					}
				}
				if data, _ := os.ReadFile(audit); strings.Contains(string(data), `"remember.reuse"`) {
					t.Errorf("the rotation behind a 103 was audited as theft (remember.reuse)")
				}
			})

			t.Run("session cookie", func(t *testing.T) {
				w := web{t, client()}
				// A fresh session, made on a response that follows a 103.
				resp, _, got := tracedDo(w, http.MethodGet, g.url(a, "/hints/p?replace="+url.QueryEscape("cart=7")))
				checkInterims(t, "new session", got, siteA...)
				sid, ok := setCookieValue(resp.Header, "__Host-sid")
				if !ok || sid == "" || sid == plantedInHints {
					t.Fatalf("a new session behind a 103 set no session cookie; the final response's cookies: %q", cookieNames(resp.Header))
				}
				if _, body := w.do("GET", g.url(a, "/who"), nil); !strings.Contains(body, "cart=7") {
					t.Fatalf("the session made behind a 103 is not the browser's: %q", body)
				}
				// Rotations (a backend login, then a regenerate on a POST),
				// each behind a 103.
				for _, tc := range []struct{ method, action string }{
					{http.MethodGet, "login user=" + alice},
					{http.MethodPost, "regenerate"},
				} {
					resp, _, got := tracedDo(w, tc.method, g.url(a, "/hints/p?action="+url.QueryEscape(tc.action)))
					checkInterims(t, tc.action, got, siteA...)
					next, ok := setCookieValue(resp.Header, "__Host-sid")
					if !ok || next == "" || next == sid || next == plantedInHints {
						t.Errorf("%s %q behind a 103: the final response rotates no session cookie; its cookies: %q",
							tc.method, tc.action, cookieNames(resp.Header))
					}
					sid = next
					if who := whoAmI(w, g, a); who != alice {
						t.Errorf("after %s %q behind a 103 the browser is signed in as %q, want %s", tc.method, tc.action, who, alice)
					}
				}
			})

			t.Run("apache cookie cleared", func(t *testing.T) {
				w := withCookie(t, g.url(b, "/"), "session", "not-an-apache-session")
				resp, _, got := tracedDo(w, http.MethodGet, g.url(b, "/hints/p"))
				checkInterims(t, "apache cookie", got, "__Host-sid")
				cleared := false
				for _, l := range resp.Header.Values("Set-Cookie") {
					if c, err := http.ParseSetCookie(l); err == nil && c.Name == "session" && c.MaxAge < 0 {
						cleared = true
					}
				}
				if !cleared {
					t.Errorf("the final response after a 103 does not expire the Apache cookie; its cookies: %q", cookieNames(resp.Header))
				}
			})
		})
	}
}

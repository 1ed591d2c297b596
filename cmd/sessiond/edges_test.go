package main_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/devtls"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testkit"
)

// auditLog reads a served gateway's audit log.
func (s served) auditLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(s.audit)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// serveOn is serve with the site on one of gatewayStores.
func serveOn(t *testing.T, bin string, st storeCase, site string) served {
	t.Helper()
	return serveWith(t, bin, site, "store:\n"+st.yaml(t, t.TempDir()))
}

// TestBackendLoginParsedWhole: "login user=admin,guest" from a backend
// signs in nobody (today's split at the comma signed in "admin"); the
// session's data survives.
// Run on each of gatewayStores (SQLite, Redis, cookie store).
func TestBackendLoginParsedWhole(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			s := serveOn(t, bin, st, "    upstream: "+up.srv.URL)
			w := web{t, client()}
			w.do("GET", s.httpsURL+"/p?replace="+url.QueryEscape("cart=7"), nil)
			for _, action := range []string{"login user=admin,guest", "login user=admin, logout", "regenerate, login user=admin",
				"login user=adm\xffin", "login user=" + strings.Repeat("a", 257)} {
				w.do("GET", s.httpsURL+"/p?action="+url.QueryEscape(action), nil)
				_, body := w.do("GET", s.httpsURL+"/p", nil)
				if !strings.Contains(body, "user=\n") || !strings.Contains(body, "cart=7") {
					t.Fatalf("after a backend %q the backend sees %q; want no user and the cart kept", action, body)
				}
			}
			if log := s.auditLog(t); strings.Contains(log, "login.backend") {
				t.Fatalf("a refused backend login was audited as a login:\n%s", log)
			}
			// A well-formed login still works.
			w.do("GET", s.httpsURL+"/p?action="+url.QueryEscape("login user=alice"), nil)
			if _, body := w.do("GET", s.httpsURL+"/p", nil); !strings.Contains(body, "user=alice\n") {
				t.Fatalf("valid backend login: backend sees %q", body)
			}
		})
	}
}

// TestLoginUserNameBounded: a 1 MiB user name is refused before it is a
// rate-limit key, an audit field or a page echo; the real user can still
// sign in.
// Run on each of gatewayStores (SQLite, Redis, cookie store).
func TestLoginUserNameBounded(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			s := serveOn(t, bin, st, "    upstream: "+up.srv.URL)
			w := web{t, client()}
			long := strings.Repeat("n", 1<<20)
			for range 3 {
				_, page := w.do("GET", s.httpsURL+"/login", nil)
				resp, body := w.do("POST", s.httpsURL+"/login", url.Values{"csrf_token": {field(page, "csrf_token")},
					"username": {long}, "password": {"x"}})
				if resp.StatusCode != 401 || strings.Contains(body, strings.Repeat("n", 300)) {
					t.Fatalf("1 MiB user name = %d (page of %d bytes); want 401 without the name", resp.StatusCode, len(body))
				}
			}
			if log := s.auditLog(t); strings.Contains(log, strings.Repeat("n", 300)) || !strings.Contains(log, "login.failed") {
				t.Fatalf("audit log (%d bytes) holds the long name or lacks login.failed", len(log))
			}
			_, page := w.do("GET", s.httpsURL+"/login", nil)
			resp, _ := w.do("POST", s.httpsURL+"/login", url.Values{"csrf_token": {field(page, "csrf_token")},
				"username": {"alice"}, "password": {"alice-pw"}})
			if resp.StatusCode != 303 {
				t.Fatalf("alice's login after the attack = %d", resp.StatusCode)
			}
		})
	}
}

// spoofed are client headers that a backend or CGI could take for the
// gateway's identity or transport headers.
var spoofed = map[string]string{
	"X_Session_User": "admin", "X_Session": "role=admin", "X_Session_Secure": "1", "Session": "role=admin",
	"X-Real-IP": "10.6.6.6", "Remote-User": "admin", "Remote_User": "admin", "X-Remote-User": "admin",
	"X-Forwarded-User": "admin", "X-Forwarded-Email": "admin@example.com", "X-Forwarded-Prefix": "/evil",
	"Forwarded": "for=10.6.6.6;proto=https", "X-Forwarded-For": "10.6.6.6", "X-Forwarded-Proto": "https",
	"X_Forwarded_For": "10.6.6.6",
}

func spoof(t *testing.T, c *http.Client, method, u string) string {
	t.Helper()
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader("a=b")
	}
	req, _ := http.NewRequest(method, u, body)
	for k, v := range spoofed {
		req.Header[k] = []string{v} // raw names: X_Session_User stays as sent
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		o, _ := url.Parse(u)
		req.Header.Set("Origin", o.Scheme+"://"+o.Host)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestNoIdentitySmuggling attacks a proxied site (a bodiless GET and a
// POST) and a CGI site with client
// headers a backend would take for identity or transport.
// Run on each of gatewayStores (SQLite, Redis, cookie store).
func TestNoIdentitySmuggling(t *testing.T) {
	bin := buildSessiond(t)
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			t.Run("proxied", func(t *testing.T) {
				up := newUpstream(t)
				s := serveOn(t, bin, st, "    upstream: "+up.srv.URL)
				w := web{t, client()}
				w.do("GET", s.httpsURL+"/p?replace=cart%3D1", nil)
				for _, method := range []string{"GET", "POST"} {
					spoof(t, w.c, method, s.httpsURL+"/p")
					got := up.seen()
					for k := range got {
						hk := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
						if _, bad := spoofed[k]; bad && !strings.HasPrefix(hk, "x-forwarded-") && hk != "forwarded" {
							t.Errorf("%s: %s reached the backend: %q", method, k, got[k])
						}
					}
					for k, v := range got {
						if strings.Contains(strings.Join(v, ","), "admin") || strings.Contains(strings.Join(v, ","), "10.6.6.6") ||
							strings.Contains(strings.Join(v, ","), "/evil") {
							t.Errorf("%s: a spoofed value reached the backend in %s: %q", method, k, v)
						}
					}
					if got.Get("X-Session") != "cart=1" || got.Get("X-Forwarded-Proto") != "https" || got.Get("Forwarded") != "" {
						t.Errorf("%s: backend saw X-Session %q, X-Forwarded-Proto %q, Forwarded %q", method,
							got.Get("X-Session"), got.Get("X-Forwarded-Proto"), got.Get("Forwarded"))
					}
				}
			})
			t.Run("cgi", func(t *testing.T) {
				dir := t.TempDir()
				os.WriteFile(filepath.Join(dir, "env.cgi"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv | grep '^HTTP_' | sort\n"), 0o755)
				s := serveOn(t, bin, st, fmt.Sprintf("    cgi: {dir: %s, prefix: /cgi-bin}", dir))
				w := web{t, client()}
				for _, method := range []string{"GET", "POST"} {
					env := spoof(t, w.c, method, s.httpsURL+"/cgi-bin/env.cgi")
					if !strings.Contains(env, "HTTP_SESSION=") {
						t.Fatalf("%s: the CGI script did not run:\n%s", method, env)
					}
					for _, line := range strings.Split(env, "\n") {
						name, v, _ := strings.Cut(line, "=")
						if strings.Contains(v, "admin") || strings.Contains(v, "10.6.6.6") || strings.HasPrefix(name, "HTTP_X_FORWARDED") ||
							name == "HTTP_REMOTE_USER" || name == "HTTP_FORWARDED" || name == "HTTP_X_REAL_IP" {
							t.Errorf("%s: CGI got %s", method, line)
						}
					}
				}
			})
		})
	}
}

// TestProtocolHeadersNeverReachClient: a backend's X-Session* and Session
// headers are dropped from final and 1xx (103 Early Hints) responses, on
// bodiless requests and requests with a body.
// Run on each of gatewayStores (SQLite, Redis, cookie store).
func TestProtocolHeadersNeverReachClient(t *testing.T) {
	bin := buildSessiond(t)
	leaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Link", "</style.css>; rel=preload")
		h.Set("X-Session", "leak-103")
		h.Set("X-Session-User", "leak-103")
		h.Set("Session", "leak-103")
		w.WriteHeader(http.StatusEarlyHints)
		clear(h)
		h.Set("X-Session", "leak")
		h.Set("X-Session-Ref", "leak")
		h.Set("X_Session_User", "leak")
		h.Set("Session", "leak")
		h.Set("X-Replace-Session", "k=v")
		h.Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	}))
	t.Cleanup(leaky.Close)
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			s := serveOn(t, bin, st, "    upstream: "+leaky.URL)
			c := client()
			for _, method := range []string{"GET", "POST"} {
				var early []http.Header
				trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
					early = append(early, http.Header(h).Clone())
					return nil
				}}
				var body io.Reader
				if method == "POST" {
					body = strings.NewReader("x=1")
				}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, s.httpsURL+"/p", body)
				req.Header.Set("Origin", s.httpsURL)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if len(early) != 1 || early[0].Get("Link") == "" {
					t.Fatalf("%s: 103 responses %v; want one with its Link", method, early)
				}
				for _, h := range append(early, resp.Header) {
					for k, v := range h {
						if strings.Contains(strings.Join(v, ","), "leak") || strings.Contains(k, "Replace") {
							t.Errorf("%s: the client got the backend's %s: %q", method, k, v)
						}
					}
				}
			}
		})
	}
}

// TestContentRuleStreams: with a form content rule on a mixed site, over
// plain HTTP an event stream's first event arrives while the backend is
// still sending, a WebSocket upgrades, and a login form is still sent to
// HTTPS.
func TestContentRuleStreams(t *testing.T) {
	bin := buildSessiond(t)
	release := make(chan struct{})
	defer close(release)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: first\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/ws":
			testkit.WebSocketEcho(w, r)
		case "/signin":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<form><input type="password" name="pw"></form>`)
		}
	}))
	t.Cleanup(be.Close)
	s := serve(t, bin, "    upstream: "+be.URL+`
    session: {mode: mixed}
    redirects:
      rules:
        - {form: "input[type=password]", to: https}`)
	c := client()
	resp, err := c.Get(s.httpURL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if l := testenv.FirstLine(t, resp.Body, 5*time.Second, "the event stream was held back by the content rule"); l != "data: first\n" {
		t.Fatalf("first event = %q", l)
	}

	u, _ := url.Parse(s.httpURL)
	conn, err := net.Dial("tcp", "127.0.0.1:"+u.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", u.Host, s.httpURL)
	br := bufio.NewReader(conn)
	ws, err := http.ReadResponse(br, nil)
	if err != nil || ws.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket behind a content rule = %v, %v", ws, err)
	}
	fmt.Fprint(conn, "hello\n")
	if got, _ := br.ReadString('\n'); got != "echo: hello\n" {
		t.Fatalf("through the upgraded connection: %q", got)
	}

	w := web{t, client()}
	if resp, body := w.do("GET", s.httpURL+"/signin", nil); resp.StatusCode != 302 || strings.Contains(body, "password") {
		t.Fatalf("login form over HTTP = %d %q, want a redirect to HTTPS", resp.StatusCode, body)
	}
}

// pathAttacks reach /private/secret.txt by another spelling.
var pathAttacks = []string{"/./private/secret.txt", "//private/secret.txt", "/x/../private/secret.txt",
	"/%2e/private/secret.txt", "/%2E%2e/private/secret.txt", "/private%2fsecret.txt", "/x%2F..%2Fprivate/secret.txt"}

// TestCanonicalPaths: with auth_required: [/private], no other spelling of
// a private path is served or forwarded without a login; GET and HEAD are
// sent to the canonical path (which asks for the login), other methods
// are refused.
// Run on each of gatewayStores (SQLite, Redis, cookie store).
func TestCanonicalPaths(t *testing.T) {
	bin := buildSessiond(t)
	check := func(t *testing.T, s served, leaked func() bool) {
		w := web{t, client()}
		for _, p := range pathAttacks {
			resp, body := w.do("GET", s.httpsURL+p, nil)
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/private/secret.txt" || strings.Contains(body, "TOPSECRET") {
				t.Errorf("GET %s = %d to %q (%q); want 302 to /private/secret.txt", p, resp.StatusCode, resp.Header.Get("Location"), body)
			}
			resp, body = w.do("POST", s.httpsURL+p, url.Values{"a": {"b"}})
			if resp.StatusCode != http.StatusBadRequest || strings.Contains(body, "TOPSECRET") {
				t.Errorf("POST %s = %d (%q); want 400", p, resp.StatusCode, body)
			}
		}
		resp, _ := w.do("GET", s.httpsURL+"/private/secret.txt", nil)
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("canonical private path = %d to %q; want the login page", resp.StatusCode, resp.Header.Get("Location"))
		}
		if leaked() {
			t.Error("a private path reached the backend without a login")
		}
		_, page := w.do("GET", s.httpsURL+"/login", nil)
		w.do("POST", s.httpsURL+"/login", url.Values{"csrf_token": {field(page, "csrf_token")}, "username": {"alice"}, "password": {"alice-pw"}})
		if _, body := w.do("GET", s.httpsURL+"/private/secret.txt", nil); !strings.Contains(body, "TOPSECRET") {
			t.Errorf("signed in, /private/secret.txt = %q", body)
		}
	}
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			t.Run("static", func(t *testing.T) {
				dir := t.TempDir()
				os.MkdirAll(filepath.Join(dir, "private"), 0o755)
				os.WriteFile(filepath.Join(dir, "private", "secret.txt"), []byte("TOPSECRET\n"), 0o644)
				s := serveOn(t, bin, st, fmt.Sprintf("    static: {dir: %s}\n    auth_required: [/private]", dir))
				check(t, s, func() bool { return false })
			})
			t.Run("proxied", func(t *testing.T) {
				var mu sync.Mutex
				var anonymous []string
				be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("X-Session-User") == "" {
						mu.Lock()
						anonymous = append(anonymous, r.RequestURI)
						mu.Unlock()
					}
					io.WriteString(w, "TOPSECRET "+r.RequestURI)
				}))
				t.Cleanup(be.Close)
				s := serveOn(t, bin, st, "    upstream: "+be.URL+"\n    auth_required: [/private]")
				check(t, s, func() bool {
					mu.Lock()
					defer mu.Unlock()
					if len(anonymous) > 0 {
						t.Logf("anonymous requests at the backend: %q", anonymous)
					}
					return len(anonymous) > 0
				})
			})
		})
	}
}

// TestSignedInResponsesNotCacheable: a signed-in response gets
// Cache-Control: private, no-store whatever the backend said (public,
// max-age=3600 or nothing), except under a cacheable path; an anonymous
// one keeps the backend's.
// Run on each of gatewayStores (SQLite, Redis, cookie store).
func TestSignedInResponsesNotCacheable(t *testing.T) {
	bin := buildSessiond(t)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/nocc" {
			w.Header().Set("Cache-Control", "public, max-age=3600")
			w.Header().Set("Expires", "Thu, 01 Jan 2099 00:00:00 GMT")
			w.Header().Set("CDN-Cache-Control", "public, max-age=86400")
		}
		if a := r.URL.Query().Get("action"); a != "" {
			w.Header().Set("X-Session-Action", a)
		}
		io.WriteString(w, "page for "+r.Header.Get("X-Session-User"))
	}))
	t.Cleanup(be.Close)
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			s := serveOn(t, bin, st, "    upstream: "+be.URL+"\n    cacheable: [/public/]")
			w := web{t, client()}
			if resp, _ := w.do("GET", s.httpsURL+"/page", nil); resp.Header.Get("Cache-Control") != "public, max-age=3600" {
				t.Fatalf("anonymous response: Cache-Control %q, want the backend's", resp.Header.Get("Cache-Control"))
			}
			_, page := w.do("GET", s.httpsURL+"/login", nil)
			w.do("POST", s.httpsURL+"/login", url.Values{"csrf_token": {field(page, "csrf_token")}, "username": {"alice"}, "password": {"alice-pw"}})
			for _, p := range []string{"/page", "/nocc", "/public"} {
				resp, body := w.do("GET", s.httpsURL+p, nil)
				if !strings.Contains(body, "alice") {
					t.Fatalf("%s: not signed in: %q", p, body)
				}
				if cc := resp.Header.Get("Cache-Control"); cc != "private, no-store" || resp.Header.Get("Expires") != "" || resp.Header.Get("CDN-Cache-Control") != "" {
					t.Errorf("signed-in %s: Cache-Control %q, Expires %q, CDN-Cache-Control %q; want private, no-store only", p, cc,
						resp.Header.Get("Expires"), resp.Header.Get("CDN-Cache-Control"))
				}
			}
			if resp, _ := w.do("GET", s.httpsURL+"/public/logo.png", nil); resp.Header.Get("Cache-Control") != "public, max-age=3600" {
				t.Errorf("cacheable path: Cache-Control %q, want the backend's", resp.Header.Get("Cache-Control"))
			}
			// The response that signs a user in (backend login) is private too.
			b := web{t, client()}
			resp, _ := b.do("GET", s.httpsURL+"/page?action="+url.QueryEscape("login user=bob"), nil)
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") || strings.Contains(cc, "public") {
				t.Errorf("backend login response: Cache-Control %q", cc)
			}
		})
	}
}

// TestHSTSByDefault: an https-only site with a real certificate sends
// HSTS for a year; with dev_tls it sends none.
func TestHSTSByDefault(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	cert, err := devtls.Generate(devtls.Options{Hosts: []string{"app.localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath, err := cert.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := serveTLS(t, bin, "    upstream: "+up.srv.URL, "", fmt.Sprintf("cert_file: %s, key_file: %s", certPath, keyPath))
	w := web{t, client()}
	for _, p := range []string{"/p", "/login"} {
		if resp, _ := w.do("GET", s.httpsURL+p, nil); resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
			t.Errorf("%s: Strict-Transport-Security %q, want max-age=31536000", p, resp.Header.Get("Strict-Transport-Security"))
		}
	}
	dev := serve(t, bin, "    upstream: "+up.srv.URL)
	if resp, _ := w.do("GET", dev.httpsURL+"/p", nil); resp.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("dev_tls: Strict-Transport-Security %q, want none", resp.Header.Get("Strict-Transport-Security"))
	}
}

// TestSlowClientsAndBackendsBounded: a client trickling a request body
// a byte a second gets 408 once timeouts.request_body has passed and the
// backend request ends with it (20 such clients at once); a backend that
// never sends its headers gets the client a 504 after
// timeouts.upstream_header, on both proxy paths.
func TestSlowClientsAndBackendsBounded(t *testing.T) {
	bin := buildSessiond(t)
	var inFlight atomic.Int32
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stuck" {
			select {
			case <-time.After(20 * time.Second):
			case <-r.Context().Done():
			}
			return
		}
		inFlight.Add(1)
		defer inFlight.Add(-1)
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "read")
	}))
	t.Cleanup(be.Close)
	s := serve(t, bin, "    upstream: "+be.URL+"\n    timeouts: {request_body: 2s, upstream_header: 1s}")
	u, _ := url.Parse(s.httpsURL)

	const clients = 20
	start := time.Now()
	codes := make(chan string, clients)
	for range clients {
		go func() {
			conn, err := tls.Dial("tcp", "127.0.0.1:"+u.Port(), &tls.Config{InsecureSkipVerify: true, ServerName: "app.localhost"}) // loopback, dev cert
			if err != nil {
				codes <- err.Error()
				return
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(15 * time.Second))
			fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n", u.Host, s.httpsURL)
			got := make(chan string, 1)
			go func() {
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					got <- "closed: " + err.Error()
					return
				}
				got <- resp.Status
			}()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case status := <-got:
					codes <- status
					return
				case <-tick.C:
					conn.Write([]byte("x"))
				}
			}
		}()
	}
	for range clients {
		if c := <-codes; !strings.HasPrefix(c, "408") {
			t.Errorf("trickling client got %q, want 408", c)
		}
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("trickling clients held for %v (request_body is 2s)", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for inFlight.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := inFlight.Load(); n != 0 {
		t.Errorf("%d backend requests still open after the clients were refused", n)
	}
	// A quick body still goes through.
	w := web{t, client()}
	if resp, body := w.do("POST", s.httpsURL+"/upload", url.Values{"a": {"b"}}); resp.StatusCode != 200 || body != "read" {
		t.Errorf("normal POST = %d %q", resp.StatusCode, body)
	}
	for _, method := range []string{"GET", "POST"} {
		begin := time.Now()
		var form url.Values
		if method == "POST" {
			form = url.Values{"a": {"b"}}
		}
		resp, _ := w.do(method, s.httpsURL+"/stuck", form)
		if resp.StatusCode != http.StatusGatewayTimeout || time.Since(begin) > 5*time.Second {
			t.Errorf("%s to a backend that never answers = %d after %v; want 504 after about 1s", method, resp.StatusCode, time.Since(begin))
		}
	}
}

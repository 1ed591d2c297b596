package main_test

import (
	"bufio"
	"context"
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
	"testing"
	"time"

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

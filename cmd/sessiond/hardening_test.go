package main_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/devtls"
)

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

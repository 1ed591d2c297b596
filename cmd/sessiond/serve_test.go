package main_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
)

// upstream is a real backend recording what it was sent.
type upstream struct {
	mu   sync.Mutex
	last http.Header
	srv  *httptest.Server
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.last = r.Header.Clone()
		u.mu.Unlock()
		for _, v := range r.URL.Query()["replace"] {
			w.Header().Add("X-Replace-Session", v)
		}
		for _, v := range r.URL.Query()["action"] {
			w.Header().Add("X-Session-Action", v)
		}
		fmt.Fprintf(w, "session=%s\nuser=%s\n", r.Header.Get("X-Session"), r.Header.Get("X-Session-User"))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) seen() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last.Clone()
}

type served struct {
	httpURL, httpsURL string
	dir               string // the config's directory
	audit             string // the audit log file
}

// serve writes a config, adds a user, and starts `sessiond serve`.
func serve(t *testing.T, bin string, site string) served {
	t.Helper()
	return serveWith(t, bin, site, "")
}

// serveWith is serve with extra top-level YAML (e.g. a store) appended;
// the audit log goes to a file (served.audit).
func serveWith(t *testing.T, bin string, site, extra string) served {
	t.Helper()
	return serveTLS(t, bin, site, extra, "dev_tls: true")
}

// serveTLS is serveWith with the HTTPS listener's settings (after its
// addr) given, e.g. cert_file and key_file.
func serveTLS(t *testing.T, bin string, site, extra, tlsKeys string) served {
	t.Helper()
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	cmd := exec.Command(bin, "passwd", "-cost", "4", users, "alice")
	cmd.Stdin = strings.NewReader("alice-pw\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sessiond passwd: %v\n%s", err, out)
	}
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	store := fmt.Sprintf("store:\n  sqlite: {path: %s}\n", filepath.Join(dir, "s.db"))
	if strings.Contains(extra, "store:") {
		store = ""
	}
	audit := filepath.Join(dir, "audit.log")
	cfg := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https: {addr: "127.0.0.1:%d", %s}
audit: {log: %s}
%s%s
sites:
  - hosts: [app.localhost]
%s
    auth: {htpasswd: %s}
`, hp, sp, tlsKeys, audit, store, extra, site, users)
	path := filepath.Join(dir, "sessiond.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	startProc(t, bin, "sessiond: ready", "serve", "--config", path)
	return served{fmt.Sprintf("http://app.localhost:%d", hp), fmt.Sprintf("https://app.localhost:%d", sp), dir, audit}
}

func TestServeProtocolEndToEnd(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "env.cgi"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nX-Replace-Session: cgi=%s\\r\\n\\r\\n' yes\nprintf 'HTTP_SESSION=%s\\n' \"$HTTP_SESSION\"\n"), 0o755)
	s := serve(t, bin, fmt.Sprintf(`    upstream: %s
    session:
      mode: mixed
      max_age: 2s
      exclude: [/static/]
    auth_required: [/account]`, up.srv.URL))
	w := web{t, client()}

	t.Run("updates applied and stripped", func(t *testing.T) {
		resp, _ := w.do("GET", s.httpURL+"/p?replace="+url.QueryEscape("cart=1%2c2"), nil)
		if resp.Header.Get("X-Replace-Session") != "" {
			t.Fatal("X-Replace-Session reached the client")
		}
		if _, body := w.do("GET", s.httpURL+"/p", nil); !strings.Contains(body, "session=cart=1%2c2\n") {
			t.Fatalf("backend saw %q", body)
		}
	})
	t.Run("spoofed headers dropped", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.httpURL+"/p", nil)
		req.Header.Set("X-Session-User", "root")
		req.Header.Set("X-Session", "admin=1")
		req.Header.Set("X-Forwarded-For", "10.9.9.9")
		resp, err := w.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := up.seen()
		if got.Get("X-Session-User") != "" || strings.Contains(got.Get("X-Session"), "admin") ||
			strings.Contains(got.Get("X-Forwarded-For"), "10.9.9.9") {
			t.Fatalf("spoofed headers reached the backend: %v", got)
		}
		if strings.Contains(got.Get("Cookie"), "sid") {
			t.Fatal("session cookie reached the backend")
		}
	})
	t.Run("exclude", func(t *testing.T) {
		if _, body := w.do("GET", s.httpURL+"/static/x", nil); strings.Contains(body, "cart") {
			t.Fatalf("excluded path got the session: %q", body)
		}
	})
	t.Run("auth required and login", func(t *testing.T) {
		resp, _ := w.do("GET", s.httpsURL+"/account", nil)
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/login?next=") {
			t.Fatalf("/account anonymous = %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		_, page := w.do("GET", s.httpsURL+"/login", nil)
		resp, _ = w.do("POST", s.httpsURL+"/login", url.Values{"csrf_token": {field(page, "csrf_token")},
			"username": {"alice"}, "password": {"wrong"}, "next": {"/account"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password = %d", resp.StatusCode)
		}
		resp, _ = w.do("POST", s.httpsURL+"/login", url.Values{"csrf_token": {field(page, "csrf_token")},
			"username": {"alice"}, "password": {"alice-pw"}, "next": {"//evil.example/"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("login with next=//evil = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, body := w.do("GET", s.httpsURL+"/account", nil); !strings.Contains(body, "user=alice") || !strings.Contains(body, "cart=1") {
			t.Fatalf("after login the backend saw %q (cart must survive the login)", body)
		}
		if _, body := w.do("GET", s.httpURL+"/p", nil); strings.Contains(body, "alice") {
			t.Fatalf("user visible over HTTP: %q", body)
		}
	})
	t.Run("max age", func(t *testing.T) {
		c := web{t, client()}
		c.do("GET", s.httpURL+"/p?replace=k%3Dv", nil)
		time.Sleep(1200 * time.Millisecond)
		if _, body := c.do("GET", s.httpURL+"/p", nil); !strings.Contains(body, "k=v") {
			t.Fatalf("session gone before max_age: %q", body)
		}
		time.Sleep(1200 * time.Millisecond) // 2.4 s since the last save
		if _, body := c.do("GET", s.httpURL+"/p", nil); strings.Contains(body, "k=v") {
			t.Fatalf("session alive after max_age: %q", body)
		}
	})
	_ = dir
}

func TestServeCGI(t *testing.T) {
	bin := buildSessiond(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "env.cgi"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nX-Replace-Session: n=%s\\r\\n\\r\\n' \"x${HTTP_SESSION#n=}\"\nprintf 'HTTP_SESSION=%s\\n' \"$HTTP_SESSION\"\n"), 0o755)
	s := serve(t, bin, fmt.Sprintf("    cgi: {dir: %s, prefix: /cgi-bin}", dir))
	w := web{t, client()}
	if _, body := w.do("GET", s.httpsURL+"/cgi-bin/env.cgi", nil); body != "HTTP_SESSION=\n" {
		t.Fatalf("first run: %q", body)
	}
	if _, body := w.do("GET", s.httpsURL+"/cgi-bin/env.cgi", nil); body != "HTTP_SESSION=n=x\n" {
		t.Fatalf("second run: %q", body)
	}
	if _, body := w.do("GET", s.httpsURL+"/cgi-bin/env.cgi", nil); body != "HTTP_SESSION=n=xx\n" {
		t.Fatalf("third run: %q", body)
	}
}

// TestCheckConfigErrors runs check-config on every error class of the
// config package's golden files: exit 1, and each expected line (file,
// line number, key path) printed.
func TestCheckConfigErrors(t *testing.T) {
	bin := buildSessiond(t)
	files, _ := filepath.Glob("../../gateway/config/testdata/*.golden")
	checked := 0
	for _, g := range files {
		want, _ := os.ReadFile(g)
		yml := strings.TrimSuffix(g, ".golden") + ".yaml"
		if !strings.HasPrefix(string(want), "error:") || strings.HasSuffix(yml, "secret_sources.yaml") {
			continue // a valid file; or one whose golden needs the test's fake environment
		}
		name := filepath.Base(yml)
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, "check-config", name)
			cmd.Dir = filepath.Dir(yml)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("check-config %s: %v, want exit 1\n%s", name, err, out)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				line = strings.TrimPrefix(line, "error: ")
				if strings.HasPrefix(line, "warning:") {
					continue
				}
				pos, _, _ := strings.Cut(line, ": ")
				if !strings.Contains(string(out), pos) {
					t.Errorf("output lacks %q:\n%s", pos, out)
				}
			}
		})
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d error classes found; the golden files moved?", checked)
	}
	t.Run("valid example", func(t *testing.T) {
		out, err := exec.Command(bin, "check-config", "../../gateway/config/testdata/minimal.yaml").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "OK") {
			t.Fatalf("minimal.yaml: %v\n%s", err, out)
		}
	})
}

var _ = io.Discard

package main_test

import (
	"context"
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

// backendSpellings are paths a backend resolves to /private (or below it)
// although they are not spelled /private: Express routes case-insensitively,
// Tomcat and Spring strip ";" parameters and resolve "..;", Rails routes
// /private.json to /private, and %2e / %3b are '.' and ';' decoded once.
var backendSpellings = []string{
	"/PRIVATE/x",
	"/Private/",
	"/private;jsessionid=1/x",
	"/x/..;/private/x",
	"/private.json",
	"/PRIVATE.json",
	"/private%2ejson",
	"/private%3bjsessionid=1/x",
	"/%2e/private/x",
	"/private;/x",
	"/;x/private",
}

// TestPathsResolvedLikeBackends: with auth_required: [/private] and a
// backend that serves whatever it is asked, every spelling a backend
// resolves to /private is refused (400) or, after at most one redirect to
// its canonical form, sent to the login page, on GET, HEAD and POST; none
// reaches the backend without a user. Signed in, the canonical paths
// reach it. Run on each of gatewayStores (SQLite, Redis, cookie store).
func TestPathsResolvedLikeBackends(t *testing.T) {
	bin := buildSessiond(t)
	var mu sync.Mutex
	var anonymous []string
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Session-User") == "" {
			mu.Lock()
			anonymous = append(anonymous, r.Method+" "+r.RequestURI)
			mu.Unlock()
		}
		io.WriteString(w, "TOPSECRET for "+r.Header.Get("X-Session-User"))
	}))
	t.Cleanup(be.Close)
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			s := serveOn(t, bin, st, "    upstream: "+be.URL+"\n    auth_required: [/private]")
			w := web{t, client()}
			for _, p := range backendSpellings {
				for _, method := range []string{"GET", "HEAD", "POST"} {
					t.Run(method+" "+p, func(t *testing.T) {
						if got := toLogin(w, method, s.httpsURL, p); got != "" {
							t.Error(got)
						}
					})
				}
			}
			mu.Lock()
			leaked := anonymous
			anonymous = nil
			mu.Unlock()
			if len(leaked) > 0 {
				t.Fatalf("anonymous requests reached the backend: %q", leaked)
			}
			_, page := w.do("GET", s.httpsURL+"/login", nil)
			w.do("POST", s.httpsURL+"/login", url.Values{"csrf_token": {field(page, "csrf_token")}, "username": {"alice"}, "password": {"alice-pw"}})
			for _, p := range []string{"/PRIVATE/x", "/private.json", "/private/x"} {
				if resp, body := w.do("GET", s.httpsURL+p, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "TOPSECRET for alice") {
					t.Errorf("signed in, GET %s = %d %q; want the backend's page for alice", p, resp.StatusCode, body)
				}
			}
		})
	}
}

// toLogin sends method p and follows the gateway's same-origin redirects
// (at most 3); it returns "" when the request was refused with 400 or
// ended at the login page without a page of the backend, else what
// happened.
func toLogin(w web, method, origin, p string) string {
	w.t.Helper()
	var form url.Values
	if method == "POST" {
		form = url.Values{"a": {"b"}}
	}
	target := origin + p
	var trail []string
	for range 3 {
		resp, body := w.do(method, target, form)
		trail = append(trail, method+" "+strings.TrimPrefix(target, origin)+" → "+resp.Status+" "+resp.Header.Get("Location"))
		if strings.Contains(body, "TOPSECRET") {
			return strings.Join(trail, "; ") + ": the backend's page was served"
		}
		loc := resp.Header.Get("Location")
		switch {
		case resp.StatusCode == http.StatusBadRequest && method != "GET" && method != "HEAD":
			return ""
		case (resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusTemporaryRedirect) && strings.Contains(loc, "/login?next="):
			return ""
		case resp.StatusCode == http.StatusFound && strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//"):
			target = origin + loc // the canonical form
		default:
			return strings.Join(trail, "; ") + ": want 400 (not GET/HEAD) or the login page"
		}
	}
	return strings.Join(trail, "; ") + ": too many redirects"
}

// TestRedirectRulesIgnoreCase: a mixed-mode site with a rule sending
// /checkout to HTTPS sends every spelling of it there over plain HTTP,
// and refuses a POST to one over plain HTTP with 307 to HTTPS, never
// serving it on HTTP.
func TestRedirectRulesIgnoreCase(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	s := serve(t, bin, "    upstream: "+up.srv.URL+"\n    session: {mode: mixed}\n    redirects: {rules: [{path: /checkout, to: https}]}")
	w := web{t, client()}
	for _, p := range []string{"/checkout", "/CHECKOUT", "/Checkout/pay", "/checkout.json"} {
		t.Run(p, func(t *testing.T) {
			resp, _ := w.do("GET", s.httpURL+p, nil)
			if want := s.httpsURL + p; resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
				t.Errorf("GET http %s = %d to %q; want 302 to %q", p, resp.StatusCode, resp.Header.Get("Location"), want)
			}
		})
	}
	if resp, _ := w.do("GET", s.httpURL+"/catalog", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET http /catalog = %d; want 200 on HTTP", resp.StatusCode)
	}
}

// TestAuthRequiredOutsideSessions: auth_required on a path where the
// site's include/exclude turn sessions off is refused by check-config
// and by serve alike, naming the file, line and key.
func TestAuthRequiredOutsideSessions(t *testing.T) {
	bin := buildSessiond(t)
	for _, tc := range []struct{ name, site, want string }{
		{"excluded below", "session: {exclude: [/private/static]}\n    auth_required: [/private]",
			`sessiond.yaml:8: sites[0].auth_required[0]: "/private" overlaps session.exclude[0] "/private/static"`},
		{"excluded in another case", "session: {exclude: [/Private]}\n    auth_required: [/private/x]",
			`sessiond.yaml:8: sites[0].auth_required[0]: "/private/x" overlaps session.exclude[0] "/Private"`},
		{"not included", "session: {include: [/app]}\n    auth_required: [/private]",
			`sessiond.yaml:8: sites[0].auth_required[0]: "/private" is not under any session.include path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "sessiond.yaml")
			listen := fmt.Sprintf("listen:\n  https: {addr: \"127.0.0.1:%d\", dev_tls: true}\n  http: {addr: \"127.0.0.1:%d\"}\n", testenv.FreePort(t), testenv.FreePort(t))
			os.WriteFile(path, []byte(listen+"sites:\n  - hosts: [app.localhost]\n    upstream: http://127.0.0.1:9\n    "+tc.site+"\n"), 0o600)
			for _, cmd := range []string{"check-config", "serve"} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				args := []string{cmd, path}
				if cmd == "serve" {
					args = []string{cmd, "--config", path}
				}
				out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
				cancel()
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
					t.Errorf("%s: %v\n%s\nwant exit 1 and %q", cmd, err, out, tc.want)
				}
			}
		})
	}
}

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
// resolves to /private is refused (400, or 401 where the gateway has no
// login) or, after at most one redirect to its canonical form, sent to
// the login page, on GET, HEAD and POST; none reaches the backend without
// a user. Signed in, the canonical paths reach it. Two sites on one
// gateway: b.localhost (the default, case-insensitive, with the gateway's
// login) and app.localhost (exact_case_paths: true, the backend logs
// users in), where /PRIVATE/x is another resource and is forwarded while
// every other spelling stays protected.
// Run on each of gatewayStores (SQLite, Redis, cookie store).
func TestPathsResolvedLikeBackends(t *testing.T) {
	bin := buildSessiond(t)
	var mu sync.Mutex
	var anonymous []string
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Session-User") == "" {
			mu.Lock()
			anonymous = append(anonymous, r.Method+" "+strings.Split(r.Host, ":")[0]+r.RequestURI)
			mu.Unlock()
		}
		io.WriteString(w, "TOPSECRET for "+r.Header.Get("X-Session-User"))
	}))
	t.Cleanup(be.Close)
	leaks := func() []string {
		mu.Lock()
		defer mu.Unlock()
		l := anonymous
		anonymous = nil
		return l
	}
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			s := serveOn(t, bin, st, "    upstream: "+be.URL+"\n    exact_case_paths: true\n    auth_required: [/private]\n"+
				"  - hosts: [b.localhost]\n    upstream: "+be.URL+"\n    auth_required: [/private]")
			exact, b := s.httpsURL, strings.Replace(s.httpsURL, "app.localhost", "b.localhost", 1)
			w := web{t, client()}
			for _, p := range backendSpellings {
				for _, method := range []string{"GET", "HEAD", "POST"} {
					t.Run(method+" "+p, func(t *testing.T) {
						if got := toLogin(w, method, b, p); got != "" {
							t.Error("b.localhost: " + got)
						}
						if !strings.Contains(p, "private") {
							return // another case: another resource on the exact-case site
						}
						if got := toLogin(w, method, exact, p); got != "" {
							t.Error("app.localhost (exact case): " + got)
						}
					})
				}
			}
			if l := leaks(); len(l) > 0 {
				t.Fatalf("anonymous requests reached the backend: %q", l)
			}
			if _, body := w.do("GET", exact+"/PRIVATE/x", nil); !strings.Contains(body, "TOPSECRET") {
				t.Errorf("exact_case_paths: GET /PRIVATE/x = %q; want it forwarded (another resource there)", body)
			}
			if l := leaks(); len(l) != 1 || l[0] != "GET app.localhost/PRIVATE/x" {
				t.Errorf("anonymous requests at the backend: %q; want only the exact-case site's /PRIVATE/x", l)
			}
			_, page := w.do("GET", b+"/login", nil)
			w.do("POST", b+"/login", url.Values{"csrf_token": {field(page, "csrf_token")}, "username": {"alice"}, "password": {"alice-pw"}})
			for _, p := range []string{"/PRIVATE/x", "/private.json", "/private/x"} {
				if resp, body := w.do("GET", b+p, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "TOPSECRET for alice") {
					t.Errorf("signed in, GET %s = %d %q; want the backend's page for alice", p, resp.StatusCode, body)
				}
			}
		})
	}
}

// toLogin sends method p and follows the gateway's same-origin redirects
// (at most 3); it returns "" when the request was refused (400 for a
// method other than GET and HEAD, 401 where the site has no login page)
// or ended at the login page, without a page of the backend, else what
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
		case resp.StatusCode == http.StatusBadRequest && method != "GET" && method != "HEAD",
			resp.StatusCode == http.StatusUnauthorized:
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

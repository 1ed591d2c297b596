package main_test

import (
	"cmp"
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

	"github.com/sessiond/sessiond/internal/testenv"
)

// Forward auth: nginx (auth_request) and Caddy
// (forward_auth) in front of a plain backend ask the built binary at
// /.sessiond/auth. The proxies' configs below are the ones
// docs/forward-auth.md shows.

// plainBackend is a backend that knows nothing of sessiond: it records
// what it was sent and renders a logout form with the token it was given.
type plainBackend struct {
	url  string
	mu   sync.Mutex
	hits int
	last http.Header
}

func newPlainBackend(t *testing.T) *plainBackend {
	b := &plainBackend{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.hits++
		b.last = r.Header.Clone()
		b.mu.Unlock()
		fmt.Fprintf(w, "user=%s\n<form method=post action=/logout><input type=hidden name=%q value=%q></form>\n",
			r.Header.Get("X-Session-User"), r.Header.Get("X-Session-Csrf-Field"), r.Header.Get("X-Session-Csrf"))
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

func (b *plainBackend) seen() (int, http.Header) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits, b.last.Clone()
}

// fwdAuthGateway starts sessiond with one forward-auth site, app.localhost,
// behind a proxy on proxyPort (trusted_proxies: 127.0.0.1); alice's
// password is alice-password. It returns the gateway's plain-HTTP and
// HTTPS origins.
func fwdAuthGateway(t *testing.T, bin string, proxyPort int) (httpOrigin, httpsOrigin string) {
	t.Helper()
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	cmd := exec.Command(bin, "passwd", "-cost", "4", users, "alice")
	cmd.Stdin = strings.NewReader("alice-password\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("passwd: %v\n%s", err, out)
	}
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	cfg := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https: {addr: "127.0.0.1:%d", dev_tls: true}
trusted_proxies: [127.0.0.1]
store:
  sqlite: {path: %s}
sites:
  - hosts: [app.localhost]
    forward_auth: {}
    auth: {htpasswd: %s}
    session: {rotate_requests: 4, grace: 30s}
    redirects: {https_port: %d}
`, hp, sp, filepath.Join(dir, "s.db"), users, proxyPort)
	path := filepath.Join(dir, "sessiond.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startProc(t, bin, "sessiond: ready", "serve", "--config", path)
	return fmt.Sprintf("http://127.0.0.1:%d", hp), fmt.Sprintf("https://127.0.0.1:%d", sp)
}

// TestForwardAuthNginx: nginx auth_request in front of a plain backend.
func TestForwardAuthNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	nginx := lookSbin(t, "nginx", "Debian: apt-get install nginx")
	bin := buildSessiond(t)
	be := newPlainBackend(t)
	np := testenv.FreePort(t)
	gw, gwTLS := fwdAuthGateway(t, bin, np)
	startNginx(t, nginx, np, strings.TrimPrefix(gw, "http://"), strings.TrimPrefix(be.url, "http://"))
	forwardAuthFlow(t, fmt.Sprintf("https://app.localhost:%d", np), be)
	authEndpointAttacks(t, gwTLS)
}

// TestForwardAuthCaddy: Caddy forward_auth in front of a plain backend.
func TestForwardAuthCaddy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy")
	}
	caddy := lookSbin(t, "caddy", "Debian: apt-get install caddy")
	bin := buildSessiond(t)
	be := newPlainBackend(t)
	cp := testenv.FreePort(t)
	gw, _ := fwdAuthGateway(t, bin, cp)
	startCaddy(t, caddy, cp, strings.TrimPrefix(gw, "http://"), strings.TrimPrefix(be.url, "http://"))
	forwardAuthFlow(t, fmt.Sprintf("https://app.localhost:%d", cp), be)
}

// forwardAuthFlow: anonymous → login → the backend sees the user (never
// what the client claims) → rotation reaches the browser → logout → the
// old cookie is refused.
func forwardAuthFlow(t *testing.T, origin string, be *plainBackend) {
	t.Helper()
	w := web{t, client()}
	u, _ := url.Parse(origin)
	cookie := func() string {
		for _, c := range w.c.Jar.Cookies(u) {
			if c.Name == "__Host-sid" {
				return c.Value
			}
		}
		return ""
	}

	hits0, _ := be.seen()
	resp, _ := w.do("GET", origin+"/private?x=1&y=2", nil)
	wantLogin := origin + "/login?next=" + url.QueryEscape("/private?x=1&y=2")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != wantLogin {
		t.Fatalf("anonymous: %d to %q, want 302 to %q", resp.StatusCode, resp.Header.Get("Location"), wantLogin)
	}
	if hits, _ := be.seen(); hits != hits0 {
		t.Fatal("an anonymous request reached the backend")
	}

	resp, page := w.do("GET", wantLogin, nil)
	if resp.StatusCode != 200 || field(page, "next") != "/private?x=1&amp;y=2" {
		t.Fatalf("login page: %d, next %q", resp.StatusCode, field(page, "next"))
	}
	resp, _ = w.do("POST", origin+"/login", url.Values{"csrf_token": {field(page, "csrf_token")},
		"next": {"/private?x=1&y=2"}, "username": {"alice"}, "password": {"alice-password"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/private?x=1&y=2" {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	signedIn := cookie()
	if signedIn == "" {
		t.Fatal("no session cookie after login")
	}

	// The client's own identity headers never reach the backend.
	req, _ := http.NewRequest("GET", origin+"/private?x=1&y=2", nil)
	for _, h := range []string{"X-Session-User", "X-Session-Ref", "X-Session", "X-Session-Secure"} {
		req.Header.Set(h, "mallory")
	}
	resp, err := w.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, seen := be.seen()
	if resp.StatusCode != 200 || seen.Get("X-Session-User") != "alice" || seen.Get("X-Session-Ref") == "" || seen.Get("X-Session-Ref") == "mallory" {
		t.Fatalf("signed in: %d, backend saw user %q ref %q; want alice and a Ref", resp.StatusCode, seen.Get("X-Session-User"), seen.Get("X-Session-Ref"))
	}
	for _, h := range []string{"X-Session", "X-Session-Secure"} {
		if v := seen.Values(h); len(v) != 0 && v[0] == "mallory" {
			t.Fatalf("the backend received the client's %s: %q", h, v)
		}
	}
	if v := seen.Values("Set-Cookie"); len(v) != 0 {
		t.Fatalf("the backend received the auth answer's Set-Cookie: %q", v)
	}
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.TrimSpace(v) == "" {
			t.Fatalf("an empty Set-Cookie line reached the browser: %q", resp.Header.Values("Set-Cookie"))
		}
	}

	// The sessions page is sessiond's, under the same host.
	if resp, page := w.do("GET", origin+"/.sessiond/sessions", nil); resp.StatusCode != 200 || !strings.Contains(page, "this session") {
		t.Fatalf("sessions page: %d", resp.StatusCode)
	}

	// A form sent to the backend is authorized too (nginx's subrequest
	// keeps the method, without the body).
	resp, body := w.do("POST", origin+"/private", url.Values{"k": {"v"}})
	if _, seen = be.seen(); resp.StatusCode != 200 || seen.Get("X-Session-User") != "alice" || seen.Get("Content-Type") == "" {
		t.Fatalf("POST signed in: %d %q, backend saw user %q", resp.StatusCode, body, seen.Get("X-Session-User"))
	}

	// Rotation: within a few requests the ID changes, and the new cookie
	// reaches the browser through the proxy.
	rotated := ""
	for range 8 {
		resp, body = w.do("GET", origin+"/private", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("signed in: %d", resp.StatusCode)
		}
		if c := cookie(); c != signedIn {
			rotated = c
			break
		}
	}
	if rotated == "" {
		t.Fatal("the session was not rotated, or the rotated cookie did not reach the browser")
	}
	if _, body = w.do("GET", origin+"/private", nil); !strings.Contains(body, "user=alice") {
		t.Fatalf("after rotation the backend saw %q", body)
	}

	// Logout with the token the backend was given, then the old cookie
	// is refused.
	resp, _ = w.do("POST", origin+"/logout", url.Values{"csrf_token": {field(body, "csrf_token")}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	old := client()
	old.Jar = nil
	for _, c := range []string{signedIn, rotated} {
		hits, _ := be.seen()
		req, _ := http.NewRequest("GET", origin+"/private", nil)
		req.Header.Set("Cookie", "__Host-sid="+c)
		resp, err := old.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if after, _ := be.seen(); resp.StatusCode != http.StatusFound || after != hits {
			t.Fatalf("a cookie from before logout: %d to %q, backend reached %v", resp.StatusCode, resp.Header.Get("Location"), after != hits)
		}
	}
}

// authEndpointAttacks asks the gateway's auth endpoint directly (over
// HTTPS, so that an untrusted peer is not just sent there): the
// original URL is believed only from a trusted proxy (127.0.0.1, not
// 127.0.0.2) and only as a same-site path; what a client claims never
// becomes an identity header.
func authEndpointAttacks(t *testing.T, gw string) {
	t.Helper()
	login := func(next string) string {
		return "/login?next=" + url.QueryEscape(next)
	}
	for _, tc := range []struct {
		name     string
		from     string
		host     string // default app.localhost
		hdr      map[string]string
		code     int
		location string // suffix
	}{
		{"nginx shape: 401 with the login URL", "127.0.0.1", "", map[string]string{"X-Original-URI": "/a?b=c"}, 401, login("/a?b=c")},
		{"caddy shape: redirect", "127.0.0.1", "", map[string]string{"X-Forwarded-Uri": "/a?b=c", "X-Forwarded-Host": "app.localhost"}, 302, login("/a?b=c")},
		{"untrusted peer's URL ignored", "127.0.0.2", "", map[string]string{"X-Forwarded-Uri": "/a"}, 401, login("/")},
		{"untrusted peer's nginx URL ignored", "127.0.0.2", "", map[string]string{"X-Original-URI": "/a"}, 401, login("/")},
		{"scheme-relative URL", "127.0.0.1", "", map[string]string{"X-Forwarded-Uri": "//evil.example/x"}, 302, login("/")},
		{"absolute URL", "127.0.0.1", "", map[string]string{"X-Forwarded-Uri": "https://evil.example/x"}, 302, login("/")},
		{"encoded backslash", "127.0.0.1", "", map[string]string{"X-Forwarded-Uri": "/%5Cevil.example"}, 302, login("/")},
		{"another host", "127.0.0.1", "", map[string]string{"X-Forwarded-Uri": "/a", "X-Forwarded-Host": "evil.example"}, 302, login("/")},
		{"Traefik shape: the site from X-Forwarded-Host", "127.0.0.1", "127.0.0.1", map[string]string{"X-Forwarded-Uri": "/a", "X-Forwarded-Host": "app.localhost"}, 302, login("/a")},
		{"X-Forwarded-Host from an untrusted peer names no site", "127.0.0.2", "127.0.0.1", map[string]string{"X-Forwarded-Host": "app.localhost"}, http.StatusMisdirectedRequest, ""},
		{"identity claimed by the client", "127.0.0.1", "", map[string]string{"X-Session-User": "alice", "X-Session-Ref": "r", "Remote-User": "alice"}, 401, login("/")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", gw+"/.sessiond/auth", nil)
			req.Host = cmp.Or(tc.host, "app.localhost")
			req.Header.Set("X-Forwarded-Proto", "https")
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := fromPeer(tc.from).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code || !strings.HasSuffix(resp.Header.Get("Location"), tc.location) {
				t.Fatalf("%d to %q, want %d to …%s", resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.location)
			}
			for k := range resp.Header {
				if strings.HasPrefix(strings.ToLower(k), "x-session") || strings.EqualFold(k, "Remote-User") {
					t.Fatalf("an anonymous answer carries %s: %q", k, resp.Header.Values(k))
				}
			}
		})
	}
}

// nginxSite is the inside of nginx's server block: docs/forward-auth.md
// shows it as is (TestForwardAuthDocs). Upstreams "sessiond" and
// "backend" are defined outside.
const nginxSite = `    # The auth subrequest: internal only, no body, the original URL.
    location = /.sessiond/auth {
      internal;
      proxy_pass http://sessiond;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
    # sessiond's own pages under this host: login, logout, /.sessiond/.
    location ~ ^/(login|logout)$ {
      proxy_pass http://sessiond;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
    location ^~ /.sessiond/ {
      proxy_pass http://sessiond;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
    # Everything else: asked first, then the backend with the identity.
    location / {
      auth_request /.sessiond/auth;
      auth_request_set $session_user $upstream_http_x_session_user;
      auth_request_set $session_ref $upstream_http_x_session_ref;
      auth_request_set $session_csrf $upstream_http_x_session_csrf;
      auth_request_set $session_csrf_field $upstream_http_x_session_csrf_field;
      auth_request_set $session_login $upstream_http_location;
      # A rotated session cookie rides on the auth answer: pass it on.
      auth_request_set $session_cookie $upstream_http_set_cookie;
      add_header Set-Cookie $session_cookie always;
      error_page 401 = @sessiond_login;
      proxy_pass http://backend;
      # Set from the answer, or removed (empty): never the client's.
      proxy_set_header X-Session-User $session_user;
      proxy_set_header X-Session-Ref $session_ref;
      proxy_set_header X-Session-Csrf $session_csrf;
      proxy_set_header X-Session-Csrf-Field $session_csrf_field;
      proxy_set_header X-Session "";
      proxy_set_header X-Session-Secure "";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
    # Not signed in: to the login page, back here afterwards.
    location @sessiond_login {
      add_header Set-Cookie $session_cookie always;
      return 302 $session_login;
    }
`

// caddySite is the inside of Caddy's site block: docs/forward-auth.md
// shows it as is (TestForwardAuthDocs).
const caddySite = `  route {
    # Never the client's: set below from sessiond's answer only.
    request_header -X-Session*
    request_header -Set-Cookie
    # sessiond's own pages under this host: login, logout, /.sessiond/
    # (the auth endpoint is Caddy's alone).
    @sessiond {
      path /login /logout /.sessiond/*
      not path /.sessiond/auth
    }
    reverse_proxy @sessiond {$SESSIOND}
    # Everything else: asked first (a redirect to the login page when
    # not signed in), then the backend with the identity.
    forward_auth {$SESSIOND} {
      uri /.sessiond/auth
      copy_headers X-Session-User X-Session-Ref X-Session-Csrf X-Session-Csrf-Field Set-Cookie
    }
    # A rotated session cookie rode on the answer: to the browser, not
    # to the backend.
    header +Set-Cookie {http.request.header.Set-Cookie}
    request_header -Set-Cookie
    reverse_proxy {$BACKEND}
  }
`

// TestForwardAuthDocs keeps docs/forward-auth.md honest: the nginx and
// Caddy snippets are the ones the tests run, and its sessiond
// configuration passes check-config.
func TestForwardAuthDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/forward-auth.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, snippet := range map[string]string{"nginx": nginxSite, "caddy": caddySite} {
		if !strings.Contains(string(doc), snippet) {
			t.Errorf("docs/forward-auth.md does not show the %s configuration the test runs", name)
		}
	}
	_, rest, _ := strings.Cut(string(doc), "```yaml\n")
	yaml, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("docs/forward-auth.md has no yaml block")
	}
	bin := buildSessiond(t)
	dir := t.TempDir()
	cert, key := proxyCert(t, dir)
	os.Mkdir(filepath.Join(dir, "tls"), 0o700)
	os.Rename(cert, filepath.Join(dir, "tls/cert.pem"))
	os.Rename(key, filepath.Join(dir, "tls/key.pem"))
	users := "alice:$2y$05$AbCdEfGhIjKlMnOpQrStUuI1y6D2z5VQq6kS2v1qE9c8YQbJ0e7Wy\n"
	if err := os.WriteFile(filepath.Join(dir, "users.htpasswd"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sessiond.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "check-config", "sessiond.yaml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("check-config of the docs' configuration: %v\n%s", err, out)
	}
}

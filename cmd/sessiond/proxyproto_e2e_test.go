package main_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
)

// TestProxyProtocol: HAProxy in TCP mode in front of a gateway whose HTTP
// and HTTPS listeners take the PROXY protocol, from HAProxy (127.0.0.2, the
// only trusted proxy) with send-proxy-v2 and send-proxy (v1). The client's
// address (127.0.0.3 or 127.0.0.5, never HAProxy's) reaches the backend,
// the access log, the audit log, the per-IP login limit and IP binding.
// Attacks: a PROXY header from an untrusted peer (directly, or from an
// HAProxy sending from an untrusted address) and a trusted peer without a
// header are closed before HTTP; a client's own X-Forwarded-For is ignored.
func TestProxyProtocol(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	addUser(t, bin, users, "alice", "alice-pw")
	audit, access := filepath.Join(dir, "audit.log"), filepath.Join(dir, "access.log")
	gw, gws, admin := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	t.Setenv("TEST_ADMIN_TOKEN", testAdminToken)
	v2, v1, v2tls, rogue := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	cfg := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d", proxy_protocol: true}
  https: {addr: "127.0.0.1:%d", dev_tls: true, proxy_protocol: true}
  admin: {addr: "127.0.0.1:%d", token_env: TEST_ADMIN_TOKEN}
trusted_proxies: [127.0.0.2]
audit: {log: %s}
access_log: {log: %s}
store:
  sqlite: {path: %s}
sites:
  - name: app
    hosts: [app.localhost]
    upstream: %s
    session: {bind: {ip: exact, action: reject}}
    auth:
      htpasswd: %s
      rate_limit: {per_ip: {attempts: 2, per: 1h}}
  - name: plain
    hosts: [plain.localhost]
    upstream: %s
    session: {mode: off}
    redirects: {overall: never}
`, gw, gws, admin, audit, access, filepath.Join(dir, "s.db"), up.srv.URL, users, up.srv.URL)
	path := filepath.Join(dir, "sessiond.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startProc(t, bin, "sessiond: ready", "serve", "--config", path)
	startHAProxy(t, fmt.Sprintf(`global
  maxconn 256
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
listen v2
  bind 127.0.0.1:%[1]d
  server gw 127.0.0.1:%[5]d send-proxy-v2 source 127.0.0.2
listen v1
  bind 127.0.0.1:%[2]d
  server gw 127.0.0.1:%[5]d send-proxy source 127.0.0.2
listen v2tls
  bind 127.0.0.1:%[3]d
  server gw 127.0.0.1:%[6]d send-proxy-v2 source 127.0.0.2
listen rogue
  bind 127.0.0.1:%[4]d
  server gw 127.0.0.1:%[5]d send-proxy-v2 source 127.0.0.6
`, v2, v1, v2tls, rogue, gw, gws), fmt.Sprintf("127.0.0.1:%d", rogue))

	// Plain HTTP through each PROXY version: the backend sees the client
	// (not HAProxy, not what the client wrote in X-Forwarded-For).
	for _, tc := range []struct {
		name string
		port int
		src  string
	}{{"send-proxy-v2", v2, "127.0.0.3"}, {"send-proxy (v1)", v1, "127.0.0.5"}} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://plain.localhost:%d/%s", tc.port, strings.ReplaceAll(tc.name, " ", "")), nil)
			req.Header.Set("X-Forwarded-For", "6.6.6.6")
			resp, err := fromPeer(tc.src).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%d, want 200", resp.StatusCode)
			}
			if got := up.seen().Values("X-Forwarded-For"); len(got) != 1 || got[0] != tc.src {
				t.Fatalf("backend saw X-Forwarded-For %q, want [%s] (the PROXY header's source)", got, tc.src)
			}
		})
	}

	// HTTPS through send-proxy-v2 (TLS passes through HAProxy): a session,
	// bound to 127.0.0.3; the same cookie from 127.0.0.5 is refused.
	tlsURL := func(p string) string { return fmt.Sprintf("https://app.localhost:%d%s", v2tls, p) }
	alice := web{t, browserClient("127.0.0.3")}
	_, page := alice.do("GET", tlsURL("/login"), nil)
	resp, _ := alice.do("POST", tlsURL("/login"), url.Values{"csrf_token": {field(page, "csrf_token")},
		"username": {"alice"}, "password": {"alice-pw"}, "next": {"/"}})
	if resp.StatusCode/100 != 3 {
		b, _ := os.ReadFile(audit)
		t.Fatalf("login over PROXY v2 + TLS: %d\n%s", resp.StatusCode, b)
	}
	if _, body := alice.do("GET", tlsURL("/me"), nil); !strings.Contains(body, "user=alice\n") {
		t.Fatalf("after login the backend saw %q, want user=alice", body)
	}
	if got := up.seen().Get("X-Forwarded-For"); got != "127.0.0.3" {
		t.Errorf("backend saw X-Forwarded-For %q over TLS, want 127.0.0.3", got)
	}
	thief := web{t, browserClient("127.0.0.5")}
	u, _ := url.Parse(tlsURL("/"))
	thief.c.Jar.SetCookies(u, alice.c.Jar.Cookies(u))
	if _, body := thief.do("GET", tlsURL("/me"), nil); strings.Contains(body, "user=alice") {
		t.Fatalf("alice's session bound to 127.0.0.3 served 127.0.0.5: %q", body)
	}

	// The per-IP login limit counts the PROXY client, not HAProxy: after
	// two failures from 127.0.0.3 it is limited, 127.0.0.5 is not.
	fail := func(w web) int {
		_, page := w.do("GET", tlsURL("/login"), nil)
		resp, _ := w.do("POST", tlsURL("/login"), url.Values{"csrf_token": {field(page, "csrf_token")},
			"username": {"nobody"}, "password": {"wrong-password"}, "next": {"/"}})
		return resp.StatusCode
	}
	mallory := web{t, browserClient("127.0.0.3")}
	for i, want := range []int{http.StatusUnauthorized, http.StatusTooManyRequests} {
		if got := fail(mallory); got != want {
			t.Fatalf("failed login %d from 127.0.0.3: %d, want %d", i+2, got, want)
		}
	}
	if got := fail(web{t, browserClient("127.0.0.5")}); got != http.StatusUnauthorized {
		t.Fatalf("failed login from 127.0.0.5 after 127.0.0.3 was limited: %d, want 401 (limited per client, not per proxy)", got)
	}

	// Attacks: closed before HTTP, nothing served, nothing logged as served.
	before := up.seen()
	for _, tc := range []struct {
		name string
		src  string
		port int
		send string
	}{
		{"PROXY v1 header from an untrusted peer", "127.0.0.1", gw,
			"PROXY TCP4 6.6.6.6 127.0.0.1 4242 80\r\nGET /forged HTTP/1.1\r\nHost: plain.localhost\r\n\r\n"},
		{"PROXY v2 header from an HAProxy on an untrusted address", "127.0.0.3", rogue,
			"GET /rogue HTTP/1.1\r\nHost: plain.localhost\r\n\r\n"},
		{"trusted peer without a header", "127.0.0.2", gw,
			"GET /bare HTTP/1.1\r\nHost: plain.localhost\r\n\r\n"},
		{"trusted peer without a header, HTTPS listener", "127.0.0.2", gws, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rawExchange(tc.src, tc.port, tc.send, tc.send == "")
			if err == nil && got != "" {
				t.Fatalf("served: %q", got)
			}
			if got != "" {
				t.Fatalf("got %q before the connection closed, want nothing", got)
			}
		})
	}
	if after := up.seen(); after.Get("X-Forwarded-For") != before.Get("X-Forwarded-For") {
		t.Fatalf("an attack reached the backend: X-Forwarded-For %q", after.Values("X-Forwarded-For"))
	}

	// The access and audit logs name the PROXY clients only.
	deadline := time.Now().Add(5 * time.Second)
	var acc, aud string
	for time.Now().Before(deadline) {
		a, _ := os.ReadFile(access)
		b, _ := os.ReadFile(audit)
		acc, aud = string(a), string(b)
		if strings.Contains(aud, `"login.failed"`) && strings.Contains(acc, "127.0.0.5") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, line := range strings.Split(strings.TrimSpace(acc), "\n") {
		if !strings.HasPrefix(line, "127.0.0.3 ") && !strings.HasPrefix(line, "127.0.0.5 ") {
			t.Errorf("access log line not naming a PROXY client: %q", line)
		}
	}
	for _, bad := range []string{"/forged", "/rogue", "/bare", "6.6.6.6", "127.0.0.2"} {
		if strings.Contains(acc, bad) || strings.Contains(aud, bad) {
			t.Errorf("logs mention %q:\naccess:\n%s\naudit:\n%s", bad, acc, aud)
		}
	}
	if !strings.Contains(aud, `"ip":"127.0.0.3"`) {
		t.Errorf("audit log does not name the PROXY client 127.0.0.3:\n%s", aud)
	}

	// Reloads: turning proxy_protocol off is refused (the listeners keep
	// it); trusted_proxies apply to the next connection, so once HAProxy's
	// address leaves them its PROXY headers are refused.
	reload := func(conf string) (string, error) {
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "reload", "--admin", fmt.Sprintf("127.0.0.1:%d", admin))
		cmd.Env = append(os.Environ(), "SESSIOND_ADMIN_TOKEN="+testAdminToken)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	viaV2 := func() (string, error) {
		return rawExchange("127.0.0.3", v2, "GET /after-reload HTTP/1.1\r\nHost: plain.localhost\r\n\r\n", false)
	}
	off := strings.Replace(cfg, `proxy_protocol: true}`, `proxy_protocol: false}`, 1)
	if out, err := reload(off); err == nil || !strings.Contains(out, "proxy_protocol") {
		t.Fatalf("reload turning proxy_protocol off: %v\n%s; want it refused, naming proxy_protocol", err, out)
	}
	if got, err := viaV2(); err != nil || got != "200 OK" {
		t.Fatalf("PROXY v2 after the refused reload: %q %v, want 200 OK", got, err)
	}
	if got, err := rawExchange("127.0.0.2", gw, "GET /bare2 HTTP/1.1\r\nHost: plain.localhost\r\n\r\n", false); got != "" {
		t.Fatalf("after the refused reload a trusted peer without a header was served: %q %v", got, err)
	}
	untrust := strings.Replace(cfg, "trusted_proxies: [127.0.0.2]", "trusted_proxies: [127.0.0.9]", 1)
	if out, err := reload(untrust); err != nil {
		t.Fatalf("reload changing trusted_proxies: %v\n%s", err, out)
	}
	if got, err := viaV2(); got != "" {
		t.Fatalf("HAProxy's PROXY header after it left trusted_proxies: served %q (%v), want the connection closed", got, err)
	}
}

// rawExchange connects from src to 127.0.0.1:port, writes send (or, with
// handshake, starts TLS) and returns what came back before the connection
// ended, with the error that ended it (nil: the server answered).
func rawExchange(src string, port int, send string, handshake bool) (string, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if handshake {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "app.localhost"}) // the dev certificate
		if err := tc.Handshake(); err != nil {
			return "", err
		}
		return "TLS handshake completed", nil
	}
	if _, err := io.WriteString(c, send); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return resp.Status, nil
}

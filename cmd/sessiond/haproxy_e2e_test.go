package main_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/devtls"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testkit"
)

// startHAProxy runs Debian's haproxy in the foreground with the config
// conf ({dir} is replaced by a temporary directory holding pem, a
// certificate and its key for *.localhost in one file) and waits until
// it accepts connections on waitAddr. Without haproxy the test is skipped
// (failed under CI=true).
func startHAProxy(t *testing.T, conf, waitAddr string) {
	t.Helper()
	bin := testenv.LookPath(t, "haproxy")
	dir := t.TempDir()
	cert, err := devtls.Generate(devtls.Options{Hosts: []string{"app.localhost", "shop.localhost", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath, err := cert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := os.ReadFile(certPath)
	k, _ := os.ReadFile(keyPath)
	if err := os.WriteFile(filepath.Join(dir, "pem"), append(c, k...), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(conf, "{dir}", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-q", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, conf)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	var out testkit.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", waitAddr, time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not listen on %s:\n%s", waitAddr, out.String())
		}
	}
}

// browserFrom is a browser (cookie jar, no redirects followed) whose
// connections come from the loopback address src and go to 127.0.0.1.
func browserFrom(src string) web {
	return web{c: browserClient(src)}
}

func browserClient(src string) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := fromPeer(src)
	c.Jar = jar
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c.Transport = &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // HAProxy's generated certificate on loopback
		DialContext: func(ctx context.Context, n, addr string) (net.Conn, error) {
			_, p, _ := net.SplitHostPort(addr)
			return d.DialContext(ctx, n, "127.0.0.1:"+p)
		}}
	return c
}

// TestBehindTLSTerminator: HAProxy terminates TLS in front of a gateway
// that has no listen.https, with one https-only and one mixed site. What
// comes through HAProxy's TLS frontend (from the trusted 127.0.0.2, with
// X-Forwarded-Proto: https) is HTTPS for every purpose: __Host- cookies,
// HSTS, https:// redirects, the login form, the mixed site's secure
// partition. Everything else — HAProxy's plain frontend, and any client
// talking to the gateway directly, forged headers or not — is plain HTTP:
// sent to https://, never given (or served with) a session.
func TestBehindTLSTerminator(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	addUser(t, bin, users, "alice", "alice-pw")
	gw, tlsPort, plainPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	cfg := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
trusted_proxies: [127.0.0.2]
store:
  sqlite: {path: %s}
sites:
  - name: app
    hosts: [app.localhost]
    upstream: %s
    auth: {htpasswd: %s}
    redirects: {https_port: %d, http_port: %d}
  - name: shop
    hosts: [shop.localhost]
    upstream: %s
    auth: {htpasswd: %s}
    session: {mode: mixed}
    redirects: {https_port: %d, http_port: %d}
`, gw, filepath.Join(dir, "s.db"), up.srv.URL, users, tlsPort, plainPort, up.srv.URL, users, tlsPort, plainPort)
	path := filepath.Join(dir, "sessiond.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// check-config accepts what serve runs, and says who can reach what.
	out, err := exec.Command(bin, "check-config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("check-config refused a gateway behind a TLS terminator: %v\n%s", err, out)
	}
	for _, want := range []string{"sites[0].session.mode: no listen.https", "sites[1].session.mode: no listen.https"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check-config output lacks the warning %q:\n%s", want, out)
		}
	}
	startProc(t, bin, "sessiond: ready", "serve", "--config", path)
	startHAProxy(t, fmt.Sprintf(`global
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend tls
  bind 127.0.0.1:%[1]d ssl crt {dir}/pem alpn http/1.1
  http-request set-header X-Forwarded-Proto https
  option forwardfor
  default_backend gw
frontend plain
  bind 127.0.0.1:%[2]d
  http-request set-header X-Forwarded-Proto http
  option forwardfor
  default_backend gw
backend gw
  server gw 127.0.0.1:%[3]d source 127.0.0.2
`, tlsPort, plainPort, gw), fmt.Sprintf("127.0.0.1:%d", tlsPort))

	viaTLS := func(host, p string) string { return fmt.Sprintf("https://%s:%d%s", host, tlsPort, p) }
	viaPlain := func(host, p string) string { return fmt.Sprintf("http://%s:%d%s", host, plainPort, p) }
	direct := func(host, p string) string { return fmt.Sprintf("http://%s:%d%s", host, gw, p) }

	// Through the TLS terminator: a session with a __Host- cookie, HSTS,
	// and a login whose redirects stay on https://. The backend learns
	// the client (127.0.0.3), not HAProxy.
	alice := browserFrom("127.0.0.3")
	alice.t = t
	resp, _ := alice.do("GET", viaTLS("app.localhost", "/p?replace=k%3Dv"), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("via HAProxy's TLS frontend: %d (Location %q), want 200", resp.StatusCode, resp.Header.Get("Location"))
	}
	if c := setCookie(resp.Header, "__Host-sid"); !strings.Contains(c, "Secure") {
		t.Fatalf("via HAProxy's TLS frontend: session cookie %q, want a Secure __Host-sid", c)
	}
	if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
		t.Errorf("via HAProxy's TLS frontend: Strict-Transport-Security %q, want HSTS", h)
	}
	if got := up.seen().Get("X-Forwarded-For"); got != "127.0.0.3" {
		t.Errorf("backend saw X-Forwarded-For %q, want the client 127.0.0.3", got)
	}
	_, page := alice.do("GET", viaTLS("app.localhost", "/login?next=/account"), nil)
	resp, _ = alice.do("POST", viaTLS("app.localhost", "/login"), url.Values{"csrf_token": {field(page, "csrf_token")},
		"username": {"alice"}, "password": {"alice-pw"}, "next": {"/account"}})
	if resp.StatusCode/100 != 3 || !strings.HasPrefix(resp.Header.Get("Location"), viaTLS("app.localhost", "/account")) &&
		resp.Header.Get("Location") != "/account" {
		t.Fatalf("login via HAProxy: %d to %q, want a redirect to %s", resp.StatusCode, resp.Header.Get("Location"), viaTLS("app.localhost", "/account"))
	}
	if _, body := alice.do("GET", viaTLS("app.localhost", "/account"), nil); !strings.Contains(body, "user=alice\n") {
		t.Fatalf("after login via HAProxy the backend saw %q, want user=alice", body)
	}
	var sid string
	for _, c := range alice.c.Jar.Cookies(&url.URL{Scheme: "https", Host: "app.localhost"}) {
		if c.Name == "__Host-sid" {
			sid = c.Value
		}
	}
	if sid == "" {
		t.Fatal("no __Host-sid in the jar after login")
	}

	// Everything that is not HTTPS from the trusted proxy: the redirect to
	// https:// (on HAProxy's TLS port), no cookie, and alice's session
	// never reaches the backend.
	forged := http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.9"}, "Cookie": {"__Host-sid=" + sid}}
	for _, tc := range []struct {
		name string
		c    *http.Client
		url  string
	}{
		{"HAProxy's plain frontend", fromPeer("127.0.0.3"), viaPlain("app.localhost", "/account")},
		{"direct, from an untrusted peer", fromPeer("127.0.0.1"), direct("app.localhost", "/account")},
		{"direct, from another untrusted peer", fromPeer("127.0.0.4"), direct("app.localhost", "/account")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.seen()
			req, _ := http.NewRequest("GET", tc.url, nil)
			for k, v := range forged {
				req.Header[k] = v
			}
			resp, err := tc.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if want := viaTLS("app.localhost", "/account"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
				t.Fatalf("%d to %q, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
			}
			if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
				t.Fatalf("plain HTTP got cookies %q", sc)
			}
			if after := up.seen(); after.Get("X-Session-User") != before.Get("X-Session-User") || after.Get("X-Forwarded-For") != before.Get("X-Forwarded-For") {
				t.Fatalf("the backend was reached over plain HTTP: %v", after)
			}
		})
	}

	// The mixed site: over HAProxy's TLS frontend both IDs (the secure
	// partition's __Host-ssid too); over its plain frontend only the
	// insecure ID, and signing in is sent to HTTPS.
	shop := browserFrom("127.0.0.3")
	shop.t = t
	resp, _ = shop.do("GET", viaPlain("shop.localhost", "/?replace=k%3Dv"), nil)
	if resp.StatusCode != 200 || setCookie(resp.Header, "__Host-ssid") != "" || len(resp.Header.Values("Set-Cookie")) == 0 {
		t.Fatalf("mixed site over plain HTTP: %d, secure cookie %q; want 200 with the insecure ID only", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	resp, _ = shop.do("GET", viaPlain("shop.localhost", "/login"), nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, viaTLS("shop.localhost", "/login")) {
		t.Fatalf("mixed site's login over plain HTTP: %d to %q, want a redirect to %s", resp.StatusCode, loc, viaTLS("shop.localhost", "/login"))
	}
	resp, _ = shop.do("GET", viaTLS("shop.localhost", "/?replace=k%3Dv"), nil)
	if c := setCookie(resp.Header, "__Host-ssid"); resp.StatusCode != 200 || !strings.Contains(c, "Secure") {
		t.Fatalf("mixed site via HAProxy's TLS frontend: %d, secure cookie %q; want the secure partition's ID", resp.StatusCode, c)
	}
}

// setCookie is the Set-Cookie line for name in h ("" if none).
func setCookie(h http.Header, name string) string {
	for _, v := range h.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

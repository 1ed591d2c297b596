package main_test

import (
	"context"
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

// fromPeer is an HTTP client whose connections come from local address
// src (127.0.0.1 or 127.0.0.2: both loopback), following no redirects
// and keeping no cookies (the test sends them by hand: the gateway's
// secure cookie must travel over the plain-HTTP hop behind a proxy).
func fromPeer(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the gateway's dev certificate on loopback
			DialContext: func(ctx context.Context, n, addr string) (net.Conn, error) {
				_, p, _ := net.SplitHostPort(addr)
				return d.DialContext(ctx, n, "127.0.0.1:"+p)
			}}}
}

// TestTrustedProxies: X-Forwarded-For and X-Forwarded-Proto are believed
// from the configured proxy (127.0.0.2) and ignored from any other peer
// (127.0.0.1) — for the transport (an https-only site served over the
// proxy's plain-HTTP hop), for the backend's X-Forwarded-* headers and for
// the client address in the audit log.
func TestTrustedProxies(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	cmd := exec.Command(bin, "passwd", "-cost", "4", users, "alice")
	cmd.Stdin = strings.NewReader("alice-password\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("passwd: %v\n%s", err, out)
	}
	audit := filepath.Join(dir, "audit.log")
	cgiDir := filepath.Join(dir, "cgi")
	os.Mkdir(cgiDir, 0o755)
	os.WriteFile(filepath.Join(cgiDir, "env"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nremote=%s https=%s\\n' \"$REMOTE_ADDR\" \"$HTTPS\"\n"), 0o755)
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	cfg := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https: {addr: "127.0.0.1:%d", dev_tls: true}
trusted_proxies: [127.0.0.2]
audit: {log: %s}
store:
  sqlite: {path: %s}
sites:
  - hosts: [app.localhost]
    upstream: %s
    auth: {htpasswd: %s}
  - hosts: [cgi.localhost]
    cgi: {dir: %s, prefix: /cgi-bin}
`, hp, sp, audit, filepath.Join(dir, "s.db"), up.srv.URL, users, cgiDir)
	path := filepath.Join(dir, "sessiond.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	startProc(t, bin, "sessiond: ready", "serve", "--config", path)
	base := fmt.Sprintf("http://app.localhost:%d", hp)

	forwarded := http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}}
	get := func(c *http.Client, u string, hdr http.Header) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	// From the proxy: the https-only site serves the plain-HTTP hop as the
	// HTTPS request it was, and the backend learns the real client.
	resp := get(fromPeer("127.0.0.2"), base+"/p?replace=k%3Dv", forwarded)
	if resp.StatusCode != 200 {
		t.Fatalf("via the trusted proxy: %d (Location %q), want 200", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), ";"), "__Host-sid=") {
		t.Fatalf("via the trusted proxy: no secure session cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	seen := up.seen()
	if seen.Get("X-Forwarded-For") != "203.0.113.9" || seen.Get("X-Forwarded-Proto") != "https" {
		t.Fatalf("backend saw X-Forwarded-For %q, -Proto %q; want the proxy's client and https",
			seen.Values("X-Forwarded-For"), seen.Values("X-Forwarded-Proto"))
	}

	// From anyone else the same headers count for nothing: plain HTTP is
	// sent to HTTPS, and over HTTPS the backend sees the real peer.
	resp = get(fromPeer("127.0.0.1"), base+"/p?replace=k%3Dv", forwarded)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "https://") {
		t.Fatalf("spoofed X-Forwarded-Proto from an untrusted peer: %d to %q, want a redirect to HTTPS",
			resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := len(resp.Header.Values("Set-Cookie")); n != 0 {
		t.Fatalf("untrusted peer got %d cookies over plain HTTP", n)
	}
	tlsClient := fromPeer("127.0.0.1")
	req, _ := http.NewRequest("GET", fmt.Sprintf("https://app.localhost:%d/q", sp), nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	if resp, err := tlsClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if got := up.seen().Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Fatalf("untrusted peer's X-Forwarded-For reached the backend as %q, want [127.0.0.1]", got)
	}

	// A CGI script sees the same client and transport as a proxied backend.
	cgiEnv := func(c *http.Client, u string, hdr http.Header) string {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("CGI %s: %d %s", u, resp.StatusCode, b)
		}
		return strings.TrimSpace(string(b))
	}
	if got := cgiEnv(fromPeer("127.0.0.2"), fmt.Sprintf("http://cgi.localhost:%d/cgi-bin/env", hp), forwarded); got != "remote=203.0.113.9 https=on" {
		t.Errorf("CGI via the trusted proxy saw %q, want the proxy's client over https", got)
	}
	if got := cgiEnv(tlsClient, fmt.Sprintf("https://cgi.localhost:%d/cgi-bin/env", sp), forwarded); got != "remote=127.0.0.1 https=on" {
		t.Errorf("CGI from an untrusted peer with forged headers saw %q, want the peer itself", got)
	}

	// The audit log names the client the proxy reported, and the peer
	// itself when it is not a proxy: a failed login from each.
	failLogin := func(c *http.Client, u string, hdr http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", u+"/login", nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var cookies []string
		for _, ck := range resp.Cookies() {
			cookies = append(cookies, ck.Name+"="+ck.Value)
		}
		form := url.Values{"csrf_token": {field(string(page), "csrf_token")}, "username": {"alice"}, "password": {"wrong-password"}}
		req, _ = http.NewRequest("POST", u+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://"+req.URL.Host)
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			b, _ := os.ReadFile(audit)
			t.Fatalf("wrong password = %d, want 401\n%s", resp.StatusCode, b)
		}
	}
	failLogin(fromPeer("127.0.0.2"), base, http.Header{"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Proto": {"https"}})
	failLogin(tlsClient, fmt.Sprintf("https://app.localhost:%d", sp), http.Header{"X-Forwarded-For": {"198.51.100.8"}})
	deadline := time.Now().Add(5 * time.Second)
	var log string
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(audit)
		if log = string(b); strings.Count(log, `"login.failed"`) >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(log, `"ip":"198.51.100.7"`) {
		t.Errorf("audit log lacks the proxied client 198.51.100.7:\n%s", log)
	}
	if strings.Contains(log, "198.51.100.8") {
		t.Errorf("audit log believed X-Forwarded-For from an untrusted peer:\n%s", log)
	}
}

package main_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestAttackWebSocketFromPlainHTTPPage: on a mixed-mode site a plain-HTTP
// page (whatever the network path made it) opens a WebSocket to the HTTPS
// origin of the same host; the browser sends the secure cookie with the
// handshake, so the backend would serve the signed-in user to the
// attacker's script. The gateway refuses it — directly over TLS and
// through a TLS-terminating proxy (trusted_proxies) alike — even though it
// trusts its own HTTP origin for forms, and the backend never sees it. The
// site's own pages still open their WebSockets. A client that writes
// X-Forwarded-Proto: https to the left of the proxy's http does not make a
// plain-HTTP handshake secure (nor does the secure cookie count on it).
func TestAttackWebSocketFromPlainHTTPPage(t *testing.T) {
	bin := buildSessiond(t)
	var reached atomic.Int32 // handshakes the backend saw
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/signin":
			w.Header().Set("X-Session-Action", "login user=alice")
			io.WriteString(w, "signed in")
		case "/ws":
			reached.Add(1)
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nuser=%s\n", r.Header.Get("X-Session-User"))
			rw.Flush()
		}
	}))
	t.Cleanup(be.Close)
	s := serveWith(t, bin, "    upstream: "+be.URL+"\n    session: {mode: mixed}", "trusted_proxies: [127.0.0.2]\n")
	hu, _ := url.Parse(s.httpURL)
	su, _ := url.Parse(s.httpsURL)

	// alice signs in over HTTPS: her browser holds both session cookies.
	c := client()
	if resp, body := (web{t, c}).do("GET", s.httpsURL+"/signin", nil); resp.StatusCode != 200 {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	cookieHeader := func(u *url.URL) string {
		var parts []string
		for _, ck := range c.Jar.Cookies(u) {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
		return strings.Join(parts, "; ")
	}
	secureCookies, plainCookies := cookieHeader(su), cookieHeader(hu)
	if !strings.Contains(secureCookies, "__Host-ssid=") && !strings.Contains(secureCookies, "__Secure-ssid=") {
		t.Fatalf("no secure session cookie after the sign-in: %q", secureCookies)
	}

	overTLS := func() (net.Conn, error) {
		return tls.Dial("tcp", "127.0.0.1:"+su.Port(), &tls.Config{InsecureSkipVerify: true, ServerName: "app.localhost"}) // the gateway's dev certificate on loopback
	}
	plainFrom := func(src string) func() (net.Conn, error) {
		return func() (net.Conn, error) {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
			return d.Dial("tcp", "127.0.0.1:"+hu.Port())
		}
	}
	tests := []struct {
		name     string
		dial     func() (net.Conn, error)
		host     string // the Host header (a TLS terminator keeps the browser's)
		origin   string
		cookies  string
		xfp, xff []string // header lines the proxy passes on
		want     int
		wantUser string // the user the backend saw, on 101
	}{
		{"HTTPS page opens wss", overTLS, su.Host, s.httpsURL, secureCookies, nil, nil, 101, "alice"},
		{"HTTP page opens ws", plainFrom("127.0.0.1"), hu.Host, s.httpURL, plainCookies, nil, nil, 101, ""},
		{"HTTPS page opens wss through the TLS proxy", plainFrom("127.0.0.2"), su.Host, s.httpsURL, secureCookies,
			[]string{"https"}, []string{"198.51.100.7"}, 101, "alice"},
		{"attack: HTTP page opens wss", overTLS, su.Host, s.httpURL, secureCookies, nil, nil, 403, ""},
		{"attack: HTTP page opens wss through the TLS proxy", plainFrom("127.0.0.2"), su.Host, s.httpURL, secureCookies,
			[]string{"https"}, []string{"198.51.100.7"}, 403, ""},
		{"attack: https spoofed left of the proxy's http", plainFrom("127.0.0.2"), hu.Host, s.httpURL, secureCookies,
			[]string{"https", "http"}, []string{"6.6.6.6", "198.51.100.8"}, 101, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := tt.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			var req strings.Builder
			fmt.Fprintf(&req, "GET /ws HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nCookie: %s\r\n", tt.host, tt.origin, tt.cookies)
			for _, v := range tt.xfp {
				fmt.Fprintf(&req, "X-Forwarded-Proto: %s\r\n", v)
			}
			for _, v := range tt.xff {
				fmt.Fprintf(&req, "X-Forwarded-For: %s\r\n", v)
			}
			req.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
			io.WriteString(conn, req.String())
			before := reached.Load()
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("handshake = %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want != 101 {
				if n := reached.Load(); n != before {
					t.Fatalf("a refused handshake reached the backend")
				}
				return
			}
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("through the upgraded connection: %v", err)
			}
			if got := strings.TrimSpace(line); got != "user="+tt.wantUser {
				t.Fatalf("the backend served %q, want user=%s", got, tt.wantUser)
			}
		})
	}

	// Both refusals are audited with the judged client: the peer over TLS,
	// the proxy's client through the proxy.
	deadline := time.Now().Add(5 * time.Second)
	var log string
	for time.Now().Before(deadline) {
		if log = s.auditLog(t); strings.Count(log, `"websocket.cross_origin"`) >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ips []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"websocket.cross_origin"`) {
			_, rest, _ := strings.Cut(l, `"ip":"`)
			ip, _, _ := strings.Cut(rest, `"`)
			ips = append(ips, ip)
		}
	}
	if want := []string{"127.0.0.1", "198.51.100.7"}; strings.Join(ips, ",") != strings.Join(want, ",") {
		t.Fatalf("websocket.cross_origin audited from %q, want %q:\n%s", ips, want, log)
	}
}

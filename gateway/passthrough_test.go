package gateway

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testkit"
)

// startWith runs a gateway in front of the given backend handler.
func startWith(t *testing.T, backend http.Handler) *gw {
	t.Helper()
	up := httptest.NewServer(backend)
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	return startGateway(t, func(sc *config.Site) { sc.Upstream = u.String() })
}

func TestStreamingPassesThrough(t *testing.T) {
	release := make(chan struct{})
	g := startWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Replace-Session", "streamed=1")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: second\n\n")
	}))
	defer close(release)
	resp, err := g.client().Get(g.httpsURL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if len(resp.Header.Values("Set-Cookie")) != 1 {
		t.Fatalf("streamed response carries %d Set-Cookie, want 1", len(resp.Header.Values("Set-Cookie")))
	}
	if l := testenv.FirstLine(t, resp.Body, 5*time.Second, "the first event was held back: the gateway buffers streams"); l != "data: first\n" {
		t.Fatalf("first event = %q", l)
	}
}

func TestWebSocketUpgradePassesThrough(t *testing.T) {
	g := startWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want an upgrade", 400)
			return
		}
		testkit.WebSocketEcho(w, r)
	}))
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(g.httpsURL, "https://"))
	conn, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{InsecureSkipVerify: true, ServerName: testHost}) // loopback test server
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: https://%s:%s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		testHost, port, testHost, port)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("same-origin upgrade = %d, want 101", resp.StatusCode)
	}
	fmt.Fprint(conn, "hello\n")
	got, _ := br.ReadString('\n')
	if got != "echo: hello\n" {
		t.Fatalf("through the upgraded connection: %q", got)
	}
}

func TestCookieOnBackendErrors(t *testing.T) {
	for _, code := range []int{http.StatusNotFound, http.StatusInternalServerError, http.StatusFound} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			g := startWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Replace-Session", "seen=1")
				if code == http.StatusFound {
					w.Header().Set("Location", "/next")
				}
				w.WriteHeader(code)
			}))
			resp, _ := g.do(g.client(), "GET", g.httpsURL+"/x", nil, nil)
			if resp.StatusCode != code || len(resp.Header.Values("Set-Cookie")) != 1 {
				t.Fatalf("status %d with %d Set-Cookie; want %d with exactly 1", resp.StatusCode, len(resp.Header.Values("Set-Cookie")), code)
			}
		})
	}
}

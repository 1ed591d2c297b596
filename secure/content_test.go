package secure_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/secure"
)

// contentServer serves h over plain HTTP behind a form content rule.
func contentServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	rules, err := secure.New(secure.Config{HTTPSOrigin: "https://shop.test",
		Rules: []secure.Rule{{Form: "input[type=password]", To: secure.HTTPS}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rules.Handler(h))
	t.Cleanup(srv.Close)
	return srv
}

// TestContentRulesStreamNonHTML: with a form rule, an event stream's first
// event arrives while the handler still runs, a WebSocket upgrade works,
// and HTML (declared or sniffed) is still checked.
func TestContentRulesStreamNonHTML(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := contentServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: first\n\n")
			w.(http.Flusher).Flush()
			<-release
		case "/ws":
			testkit.WebSocketEcho(w, r)
		case "/sniffed":
			io.WriteString(w, `<!doctype html><form><input type="password" name="pw"></form>`)
		case "/late":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, strings.Repeat(" ", 600))
			io.WriteString(w, `<input type=password>`)
		case "/page":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<p>hello</p>")
		case "/text":
			io.WriteString(w, strings.Repeat("x", 600)+`<input type=password>`)
		}
	}))
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := noRedirect.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if l := testenv.FirstLine(t, resp.Body, 5*time.Second, "the event stream was held back by the content rule"); l != "data: first\n" {
		t.Fatalf("first event = %q", l)
	}

	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: shop.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	ws, err := http.ReadResponse(br, nil)
	if err != nil || ws.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade behind a content rule = %v, %v", ws, err)
	}
	fmt.Fprint(conn, "hello\n")
	if got, _ := br.ReadString('\n'); got != "echo: hello\n" {
		t.Fatalf("through the upgraded connection: %q", got)
	}

	for path, want := range map[string]int{"/sniffed": 302, "/late": 302, "/page": 200, "/text": 200} {
		resp, err := noRedirect.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s = %d, want %d", path, resp.StatusCode, want)
		}
		if want == 302 && (strings.Contains(string(b), "password") || resp.Header.Get("Location") != "https://shop.test"+path) {
			t.Errorf("%s: redirect to %q leaked the form: %q", path, resp.Header.Get("Location"), b)
		}
	}
}

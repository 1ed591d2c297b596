package main_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
)

// TestAccessLogAndReadiness: the access log has one combined-format line
// per request that names the session by the Ref the backend was given and
// never contains the session ID; /healthz stays 200 while /readyz follows
// the store: 200, 503 with Redis stopped, 200 when it is back.
func TestAccessLogAndReadiness(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	rport := testenv.FreePort(t)
	stopRedis := redisServer(t, rport)
	dir := t.TempDir()
	access := filepath.Join(dir, "access.log")
	os.WriteFile(filepath.Join(dir, "token"), []byte("ops-test-token-0123456789\n"), 0o600)
	hp, sp, ap := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	cfg := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https: {addr: "127.0.0.1:%d", dev_tls: true}
  admin: {addr: "127.0.0.1:%d", token_file: token}
access_log: {log: access.log, format: combined}
store:
  redis: {url: "redis://127.0.0.1:%d/0"}
sites:
  - hosts: [app.localhost]
    upstream: %s
`, hp, sp, ap, rport, up.srv.URL)
	path := filepath.Join(dir, "sessiond.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	startProc(t, bin, "sessiond: ready", "serve", "--config", path)

	c := client()
	resp, err := c.Get(fmt.Sprintf("https://app.localhost:%d/cart?replace=k%%3Dv", sp))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var id string
	for _, ck := range resp.Cookies() {
		id = ck.Value
	}
	resp, err = c.Get(fmt.Sprintf("https://app.localhost:%d/next", sp))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ref := up.seen().Get("X-Session-Ref")
	if id == "" || ref == "" {
		t.Fatalf("no session: cookie %q, ref %q", id, ref)
	}
	var lines []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(lines) < 2; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(access)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	if len(lines) != 2 {
		t.Fatalf("want 2 access log lines, got %q", lines)
	}
	combined := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /next HTTP/1\.1" 200 \d+ "-" "Go-http-client/1\.1" "(.*)"$`)
	m := combined.FindStringSubmatch(lines[1])
	if m == nil {
		t.Fatalf("not a combined log line with a Ref: %q", lines[1])
	}
	if m[1] != ref {
		t.Fatalf("access log names session %q, the backend was given Ref %q", m[1], ref)
	}
	if strings.Contains(strings.Join(lines, "\n"), id) {
		t.Fatal("the session ID is in the access log")
	}

	admin := fmt.Sprintf("http://127.0.0.1:%d", ap)
	status := func(p string) int {
		t.Helper()
		resp, err := http.Get(admin + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if h, r := status("/healthz"), status("/readyz"); h != 200 || r != 200 {
		t.Fatalf("store up: healthz %d, readyz %d; want 200, 200", h, r)
	}
	stopRedis()
	if h, r := status("/healthz"), status("/readyz"); h != 200 || r != http.StatusServiceUnavailable {
		t.Fatalf("store down: healthz %d, readyz %d; want 200, 503", h, r)
	}
	redisServer(t, rport)
	ready := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ready = status("/readyz"); ready == 200 {
			break
		}
	}
	if ready != 200 {
		t.Fatalf("store back: readyz %d, want 200", ready)
	}
}

package main_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
)

// redisServer runs a redis-server of the test's own on port.
func redisServer(t *testing.T, port int) (stop func()) {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server")
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestStoreDownGives503: with the gateway's Redis killed,
// requests that need the session get 503 with a clear message — never a
// new, empty session — and the same session is back when Redis is.
func TestStoreDownGives503(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	rport := testenv.FreePort(t)
	stopRedis := redisServer(t, rport)
	dir := t.TempDir()
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	cfg := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https: {addr: "127.0.0.1:%d", dev_tls: true}
store:
  redis: {url_env: TEST_REDIS_URL}
sites:
  - hosts: [app.localhost]
    upstream: %s
`, hp, sp, up.srv.URL)
	path := filepath.Join(dir, "sessiond.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	t.Setenv("TEST_REDIS_URL", fmt.Sprintf("redis://127.0.0.1:%d/0", rport))
	startProc(t, bin, "sessiond: ready", "serve", "--config", path)
	base := fmt.Sprintf("https://app.localhost:%d", sp)
	w := web{t, client()}
	w.do("GET", base+"/p?replace=cart%3D1%2c2", nil)
	if _, body := w.do("GET", base+"/p", nil); !strings.Contains(body, "cart=1%2c2") {
		t.Fatalf("session before the outage: %q", body)
	}

	stopRedis()
	start := time.Now()
	resp, body := w.do("GET", base+"/p", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "temporarily unavailable") {
		t.Fatalf("with Redis down: %d %q, want 503 and a clear message", resp.StatusCode, body)
	}
	if len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatal("a cookie was set while the store was down")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the 503 took %v; a down store must answer quickly", d)
	}

	redisServer(t, rport) // back, but empty: Redis here keeps nothing on disk
	resp, _ = w.do("GET", base+"/p", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after Redis is back: %d, want service to resume", resp.StatusCode)
	}
	w.do("GET", base+"/p?replace=cart%3D3", nil)
	if _, body := w.do("GET", base+"/p", nil); !strings.Contains(body, "cart=3") {
		t.Fatalf("sessions work again after recovery: %q", body)
	}
}

package main_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
)

// TestReloadMovesListeners: a reload that changes listen.https moves the
// listener without a restart — the new port serves the same sessions, the
// old one stops accepting — and a reload to a port that cannot be bound
// fails as a whole (logged), leaving the running listener serving.
func TestReloadMovesListeners(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	dir := t.TempDir()
	hp, sp, sp2 := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	config := func(https int) []byte {
		return []byte(fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https: {addr: "127.0.0.1:%d", dev_tls: true}
store:
  memory: {}
sites:
  - hosts: [app.localhost]
    upstream: %s
`, hp, https, up.srv.URL))
	}
	path := filepath.Join(dir, "sessiond.yaml")
	os.WriteFile(path, config(sp), 0o600)
	cmd, logs := startLogged(t, bin, "serve", "--config", path)

	c := client()
	get := func(port int, p string) (int, string, error) {
		resp, err := c.Get(fmt.Sprintf("https://app.localhost:%d%s", port, p))
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if code, _, err := get(sp, "/set?replace=k%3Dv"); err != nil || code != 200 {
		t.Fatalf("set: %d %v", code, err)
	}

	os.WriteFile(path, config(sp2), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, logs, "configuration reloaded", 1)
	code, body, err := get(sp2, "/get")
	if err != nil || code != 200 || !strings.Contains(body, "session=k=v") {
		t.Fatalf("new HTTPS port after the reload: %d %q %v (want the session kept)", code, body, err)
	}
	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: c.Transport.(*http.Transport).TLSClientConfig, DisableKeepAlives: true}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := fresh.Get(fmt.Sprintf("https://app.localhost:%d/get", sp))
		if err != nil {
			break // the old port is closed
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("the old HTTPS port still accepts connections 15s after the reload moved it")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A port that is taken: the reload fails and nothing moves.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	os.WriteFile(path, config(taken.Addr().(*net.TCPAddr).Port), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, logs, "reload failed", 1)
	if code, body, err := get(sp2, "/get"); err != nil || code != 200 || !strings.Contains(body, "session=k=v") {
		t.Fatalf("after a reload to a taken port the running listener answers %d %q %v", code, body, err)
	}
}

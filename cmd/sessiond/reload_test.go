package main_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/devtls"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testkit"
)

// startLogged starts `sessiond args...`, keeping its stderr, and waits
// for "sessiond: ready".
func startLogged(t *testing.T, bin string, args ...string) (*exec.Cmd, *testkit.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	logs := &testkit.Buffer{}
	cmd.Stderr = logs
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "sessiond: ready" {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("sessiond exited before it was ready:\n%s", logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("sessiond not ready after 30s:\n%s", logs)
	}
	return cmd, logs
}

// TestReloadUnderLoad: requests with sessions run without pause while the
// configuration is reloaded by SIGHUP (valid), SIGHUP (invalid: logged
// with file:line, the old configuration keeps serving) and `sessiond
// reload` (valid, through the admin API). Not one request fails, no
// session is lost (the memory store is carried over), the new site and
// the new certificate are in force afterwards, and the process is still
// the same one.
func TestReloadUnderLoad(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	writeCert := func() *devtls.Cert {
		c, err := devtls.Generate(devtls.Options{Hosts: []string{"localhost", "*.localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.WriteFiles(tlsDir); err != nil {
			t.Fatal(err)
		}
		return c
	}
	cert1 := writeCert()
	token := filepath.Join(dir, "admin-token")
	os.WriteFile(token, []byte("reload-test-token-0123456789\n"), 0o600)
	hp, sp, ap := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	config := func(extra string) []byte {
		return []byte(fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https: {addr: "127.0.0.1:%d", cert_file: tls/%s, key_file: tls/%s}
  admin: {addr: "127.0.0.1:%d", token_file: admin-token}
store:
  memory: {}
sites:
  - hosts: [app.localhost]
    upstream: %s
%s`, hp, sp, devtls.CertFile, devtls.KeyFile, ap, up.srv.URL, extra))
	}
	path := filepath.Join(dir, "sessiond.yaml")
	os.WriteFile(path, config(""), 0o600)
	cmd, logs := startLogged(t, bin, "serve", "--config", path)
	app := fmt.Sprintf("https://app.localhost:%d", sp)

	var requests, failures atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c := client()
			fail := func(format string, args ...any) {
				failures.Add(1)
				firstFailure.CompareAndSwap(nil, fmt.Sprintf(format, args...))
			}
			want := fmt.Sprintf("w=%d", i)
			resp, err := c.Get(app + "/set?replace=" + url.QueryEscape(want))
			if err != nil || resp.StatusCode != 200 {
				fail("worker %d: set: %v %v", i, err, resp)
				return
			}
			resp.Body.Close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				requests.Add(1)
				resp, err := c.Get(app + "/get")
				if err != nil {
					fail("worker %d: %v", i, err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(body), "session="+want) {
					fail("worker %d: %d %q", i, resp.StatusCode, body)
				}
			}
		})
	}

	time.Sleep(time.Second)
	// 1. A valid new configuration by SIGHUP: a second site, a new certificate.
	cert2 := writeCert()
	os.WriteFile(path, config("  - hosts: [new.localhost]\n    upstream: "+up.srv.URL+"\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, logs, "configuration reloaded", 1)
	time.Sleep(time.Second)
	// 2. An invalid one by SIGHUP: logged with file and line; nothing changes.
	os.WriteFile(path, config("    colour: blue\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, logs, "reload failed", 1)
	time.Sleep(time.Second)
	// 3. A valid one again through the admin API.
	os.WriteFile(path, config("  - hosts: [new.localhost]\n    upstream: "+up.srv.URL+"\n"), 0o600)
	rl := exec.Command(bin, "reload", "--admin", fmt.Sprintf("127.0.0.1:%d", ap), "--token-file", token)
	if out, err := rl.CombinedOutput(); err != nil {
		t.Fatalf("sessiond reload: %v\n%s", err, out)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	n, f := requests.Load(), failures.Load()
	t.Logf("%d requests across 3 reloads (2 valid, 1 invalid), %d failed", n, f)
	if f != 0 {
		t.Fatalf("%d of %d requests failed across reloads; first: %v\n%s", f, n, firstFailure.Load(), logs)
	}
	if n < 100 {
		t.Fatalf("only %d requests ran: the load proves nothing", n)
	}
	if !strings.Contains(logs.String(), "sessiond.yaml:10") || !strings.Contains(logs.String(), "colour") {
		t.Fatalf("the failed reload does not name file:line and the key:\n%s", logs)
	}
	if strings.Count(logs.String(), "configuration reloaded") != 2 {
		t.Fatalf("want 2 successful reloads logged:\n%s", logs)
	}
	if resp, err := client().Get(fmt.Sprintf("https://new.localhost:%d/", sp)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the reloaded configuration's new site: %v %v", err, resp)
	}
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", sp), &tls.Config{ServerName: "app.localhost", InsecureSkipVerify: true}) // loopback, own test certificates
	if err != nil {
		t.Fatal(err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if !leaf.Equal(cert2.Leaf) || leaf.Equal(cert1.Leaf) {
		t.Fatal("after the reload the gateway still presents the old certificate")
	}
	if cmd.ProcessState != nil {
		t.Fatal("sessiond exited")
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("sessiond is gone after SIGHUP: %v", err)
	}
}

// TestServeDevTLSFlag: --dev-tls applies before the configuration is
// checked, so a file refused as is (an HTTPS address without a
// certificate) starts with it and serves HTTPS with a generated one.
func TestServeDevTLSFlag(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	dir := t.TempDir()
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	path := filepath.Join(dir, "sessiond.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https: {addr: "127.0.0.1:%d"}
store: {memory: {}}
sites:
  - hosts: [app.localhost]
    upstream: %s
`, hp, sp, up.srv.URL)), 0o600)
	if out, err := exec.Command(bin, "check-config", path).CombinedOutput(); err == nil {
		t.Fatalf("an https-only site without HTTPS passed check-config:\n%s", out)
	}
	if out, err := exec.Command(bin, "check-config", "--dev-tls", path).CombinedOutput(); err != nil {
		t.Fatalf("check-config --dev-tls: %v\n%s", err, out)
	}
	startLogged(t, bin, "serve", "--dev-tls", "--config", path)
	resp, err := client().Get(fmt.Sprintf("https://app.localhost:%d/", sp))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("serve --dev-tls: %d over TLS=%v", resp.StatusCode, resp.TLS != nil)
	}
}

// waitFor waits until logs contain want at least n times.
func waitFor(t *testing.T, logs *testkit.Buffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(logs.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after 15s:\n%s", want, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

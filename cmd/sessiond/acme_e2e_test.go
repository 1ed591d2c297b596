package main_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/acme/acmetest"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testkit"
)

// acmeCert is the verified certificate the gateway at addr serves for
// host, or nil.
func acmeCert(addr, host string, roots *x509.CertPool) *x509.Certificate {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{ServerName: host, RootCAs: roots})
	if err != nil {
		return nil
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// serveChecked writes cfg to dir/sessiond.yaml, has check-config accept
// it and starts serve with it; the log is shown if the test fails.
func serveChecked(t *testing.T, bin, dir, cfg string) (string, *exec.Cmd, *testkit.Buffer) {
	t.Helper()
	path := filepath.Join(dir, "sessiond.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check-config", path).CombinedOutput(); err != nil {
		t.Fatalf("check-config: %v\n%s", err, out)
	}
	cmd, logs := startLogged(t, bin, "serve", "--config", path)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sessiond's log:\n%s", logs)
		}
	})
	return path, cmd, logs
}

func waitUntil(t *testing.T, within time.Duration, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !f(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
	}
}

// TestACMEServe runs the built binary with listen.https.acme against
// Pebble on loopback: every site host gets a certificate at start, over
// each challenge alone (http-01 on the gateway's HTTP listener, tls-alpn-01
// in its HTTPS handshakes; the CA's other port is closed), and HTTPS works
// with it; a host
// the CA refuses is one clear error in the log while the gateway serves on;
// a reload keeps the certificates (nothing ordered again), and one that
// adds a host orders that host's alone; a restart with the CA down serves
// them from the store.
func TestACMEServe(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an ACME CA and the binary")
	}
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) { testACMEServe(t, challenge) })
	}
}

func testACMEServe(t *testing.T, challenge string) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	o := acmetest.PebbleOptions{Blocked: []string{"refused.example.test"}}
	if challenge == "http-01" {
		o.HTTPPort = hp
	} else {
		o.TLSPort = sp
	}
	ca := acmetest.StartPebble(t, o)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https:
    addr: "127.0.0.1:%d"
    acme:
      email: ops@example.test
      ca: %s
      ca_root: %s
      challenges: [%s]
store:
  sqlite: {path: sessions.db}
sites:
  - hosts: [app.example.test]
    upstream: %s
    session: {mode: off}
  - hosts: [refused.example.test]
    upstream: %s
    session: {mode: off}
`, hp, sp, ca.Directory, ca.RootFile, challenge, up.srv.URL, up.srv.URL)
	path, cmd, logs := serveChecked(t, bin, dir, cfg)
	roots := ca.IssuerRoots(t)
	addr := fmt.Sprintf("127.0.0.1:%d", sp)
	var cert *x509.Certificate
	waitUntil(t, 60*time.Second, "no certificate for app.example.test", func() bool {
		cert = acmeCert(addr, "app.example.test", roots)
		return cert != nil
	})
	// Each request on a new connection: the second resumes the first's
	// TLS session.
	hc := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ClientSessionCache: tls.NewLRUClientSessionCache(4)},
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
	for i := range 2 {
		resp, err := hc.Get("https://app.example.test/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "user=") {
			t.Fatalf("HTTPS through the ACME certificate: %d %q", resp.StatusCode, body)
		}
		if i == 1 && !resp.TLS.DidResume {
			t.Error("the second connection did not resume the TLS session")
		}
	}

	waitUntil(t, 30*time.Second, "the CA's refusal is not logged", func() bool {
		return strings.Contains(logs.String(), "refused.example.test") && strings.Contains(logs.String(), "rejectedIdentifier")
	})
	if acmeCert(addr, "refused.example.test", roots) != nil {
		t.Fatal("a certificate for the host the CA refused")
	}
	issued := strings.Count(ca.Log(), "Issued certificate serial")

	// A reload keeps the certificates: same one served, nothing ordered.
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, 10*time.Second, "not reloaded", func() bool { return strings.Contains(logs.String(), "configuration reloaded") })
	if got := acmeCert(addr, "app.example.test", roots); got == nil || !got.Equal(cert) {
		t.Fatalf("after a reload: %v, want the same certificate", got)
	}
	time.Sleep(time.Second)
	if n := strings.Count(ca.Log(), "Issued certificate serial"); n != issued {
		t.Fatalf("the reload ordered %d certificates", n-issued)
	}

	// A reload that adds a host orders its certificate alone.
	if err := os.WriteFile(path, []byte(strings.Replace(cfg, "[app.example.test]", "[app.example.test, new.example.test]", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, 60*time.Second, "no certificate for the host a reload added", func() bool {
		return acmeCert(addr, "new.example.test", roots) != nil
	})
	if got := acmeCert(addr, "app.example.test", roots); got == nil || !got.Equal(cert) {
		t.Fatalf("after adding a host: %v, want the same certificate for app.example.test", got)
	}
	if n := strings.Count(ca.Log(), "Issued certificate serial"); n != issued+1 {
		t.Fatalf("adding one host issued %d certificates", n-issued)
	}

	// A restart with the CA down serves the stored certificate.
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	ca.SetDown(true)
	startLogged(t, bin, "serve", "--config", path)
	if got := acmeCert(addr, "app.example.test", roots); got == nil || !got.Equal(cert) {
		t.Fatalf("after a restart with the CA down: %v, want the stored certificate", got)
	}
}

package main_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/devtls"
	"github.com/sessiond/sessiond/internal/testenv"
)

// lookSbin finds a server program on PATH or in /usr/sbin; without it
// the test skips, or fails under CI (testenv.Unavailable).
func lookSbin(t *testing.T, name, hint string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	testenv.Unavailable(t, "%s is not installed (%s)", name, hint)
	return ""
}

// proxyCert writes a self-signed certificate for app.localhost into dir.
func proxyCert(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	c, err := devtls.Generate(devtls.Options{Hosts: []string{"app.localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath, err = c.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// startServer runs a proxy the test configured (its own files in a
// temporary directory, loopback ports only) until the test ends, and waits
// until it answers HTTPS on port.
func startServer(t *testing.T, name string, port int, logFile string, env []string, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		testenv.Unavailable(t, "cannot start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // only the process this test started
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for range 100 {
		select {
		case <-done:
			log, _ := os.ReadFile(logFile)
			t.Fatalf("%s exited at start; log:\n%s", name, log)
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(logFile)
	t.Fatalf("%s did not listen on port %d; log:\n%s", name, port, log)
}

// startNginx runs nginx on 127.0.0.1:port (TLS) in front of backend,
// asking sessiond (both host:port) at /.sessiond/auth: the configuration
// of docs/forward-auth.md.
func startNginx(t *testing.T, bin string, port int, sessiond, backend string) {
	t.Helper()
	dir := t.TempDir()
	cert, key := proxyCert(t, dir)
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream sessiond { server %[4]s; }
  upstream backend { server %[5]s; }
  server {
    listen 127.0.0.1:%[2]d ssl;
    server_name app.localhost;
    ssl_certificate %[3]s;
    ssl_certificate_key %[6]s;
%[7]s  }
}
`, dir, port, cert, sessiond, backend, key, nginxSite)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startServer(t, "nginx", port, filepath.Join(dir, "error.log"), nil, bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path)
}

// startCaddy runs Caddy on 127.0.0.1:port (TLS) in front of backend,
// asking sessiond (both host:port): the Caddyfile of
// docs/forward-auth.md, with SESSIOND and BACKEND from the environment.
func startCaddy(t *testing.T, bin string, port int, sessiond, backend string) {
	t.Helper()
	dir := t.TempDir()
	cert, key := proxyCert(t, dir)
	conf := fmt.Sprintf(`{
  admin off
  auto_https off
  storage file_system %[1]s/data
}
https://app.localhost:%[2]d {
  bind 127.0.0.1
  tls %[3]s %[4]s
%[5]s}
`, dir, port, cert, key, caddySite)
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "SESSIOND=" + sessiond, "BACKEND=" + backend}
	startServer(t, "caddy", port, os.DevNull, env, bin, "run", "--adapter", "caddyfile", "--config", path)
}

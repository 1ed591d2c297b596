package modcrypto

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRealApache runs Apache httpd with mod_session_crypto on a loopback
// port, if it is installed (Debian: apt-get install apache2), and checks
// both directions: a cookie Apache writes decodes here, and a cookie built
// by this package's test encoder is accepted by Apache (it echoes the
// session back). Without Apache the test skips, also under CI: it is a
// cross-check, not a dependency.
func TestRealApache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache httpd")
	}
	bin, modules := findApache(t)
	dir := t.TempDir()
	// The document root must be readable by Apache's worker user, which is
	// not the test's user when running as root.
	docs, err := os.MkdirTemp("", "modcrypto-apache-docs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(docs) })
	for _, name := range []string{"index.html", "set.html", "echo.html"} {
		if err := os.WriteFile(filepath.Join(docs, name), []byte("ok\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf := apacheConf(dir, docs, modules, port)
	if err := os.WriteFile(filepath.Join(dir, "httpd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("MODCRYPTO_APACHE_CONF") != "" {
		t.Log(conf)
	}
	cmd := exec.Command(bin, "-f", filepath.Join(dir, "httpd.conf"), "-DFOREGROUND")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Apache signals its whole process group when it stops: give it its own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base+"/", dir)

	d, err := New([]string{"first secret", "second"}, Options{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("apache writes, sessiond reads", func(t *testing.T) {
		resp, err := http.Get(base + "/set.html")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /set.html: %s", resp.Status)
		}
		var value string
		for _, c := range resp.Cookies() {
			if c.Name == "session" {
				value = c.Value
			}
		}
		if value == "" {
			t.Fatalf("Apache set no session cookie; headers: %v", resp.Header)
		}
		s, err := d.Decode(value)
		if err != nil {
			t.Fatalf("Decode(Apache's cookie): %v", err)
		}
		// Apache decodes the header's '+' as a space, like a form.
		want := map[string]string{"user": "alice", "cart": "1,2 3", "note": "a b"}
		if diff := cmp.Diff(want, s.Values); diff != "" {
			t.Fatalf("values (-want +got):\n%s", diff)
		}
		if left := time.Until(s.Expiry); left < 590*time.Second || left > 610*time.Second {
			t.Fatalf("expiry in %v, want about 600s (SessionMaxAge 600)", left)
		}
	})

	t.Run("sessiond encoding, apache reads", func(t *testing.T) {
		exp := strconv.FormatInt(time.Now().Add(time.Hour).UnixMicro(), 10)
		for _, pass := range []string{"first secret", "second"} {
			cookie := sealed{pass: pass, payload: "user=bob&note=a+b%2fc&expiry=" + exp}.encode(t)
			req, _ := http.NewRequest("GET", base+"/echo.html", nil)
			req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// Apache re-encodes the table it decoded: the same pairs.
			if got := resp.Header.Get("X-Echo"); !strings.Contains(got, "user=bob") || !strings.Contains(got, "note=a+b%2fc") {
				t.Fatalf("passphrase %q: Apache did not read our cookie; X-Echo = %q", pass, got)
			}
		}
	})
}

func findApache(t *testing.T) (bin, modules string) {
	t.Helper()
	for _, name := range []string{"apache2", "/usr/sbin/apache2", "httpd", "/usr/sbin/httpd"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("Apache httpd not installed")
	}
	for _, dir := range []string{"/usr/lib/apache2/modules", "/usr/lib64/httpd/modules", "/usr/lib/httpd/modules", "/usr/local/apache2/modules"} {
		if _, err := os.Stat(filepath.Join(dir, "mod_session_crypto.so")); err == nil {
			return bin, dir
		}
	}
	t.Skip("mod_session_crypto.so not found")
	return "", ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func apacheConf(dir, docs, modules string, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot %q\nListen 127.0.0.1:%d\nServerName 127.0.0.1\n", dir, port)
	fmt.Fprintf(&b, "PidFile %q\nErrorLog %q\nLogLevel info\nDocumentRoot %q\n",
		filepath.Join(dir, "httpd.pid"), filepath.Join(dir, "error.log"), docs)
	if _, err := os.Stat(filepath.Join(modules, "mod_mpm_prefork.so")); err == nil {
		fmt.Fprintf(&b, "LoadModule mpm_prefork_module %s/mod_mpm_prefork.so\n", modules)
	}
	for _, m := range []string{"authz_core", "headers", "session", "session_cookie", "session_crypto"} {
		fmt.Fprintf(&b, "LoadModule %s_module %s/mod_%s.so\n", m, modules, m)
	}
	if os.Geteuid() == 0 {
		b.WriteString("User #65534\nGroup #65534\n")
	}
	b.WriteString(`<Location />
  Require all granted
  Session On
  SessionCookieName session path=/
  SessionCryptoPassphrase "first secret" second
  SessionMaxAge 600
</Location>
# "early" headers are set before the session is saved; they only work in
# server context, so every response carries this one, but only /set reads it.
Header set X-Replace-Session "user=alice&cart=1%%2C2+3&note=a%%20b" early
<Location /set.html>
  SessionHeader X-Replace-Session
</Location>
<Location /echo.html>
  SessionEnv On
  Header always set X-Echo "%{HTTP_SESSION}e"
</Location>
`)
	return b.String()
}

func waitHTTP(t *testing.T, url, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Skipf("Apache did not answer on %s; error.log:\n%s", url, log)
}

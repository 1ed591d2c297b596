package testenv

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Apache is an Apache httpd of a test's own, on a loopback port.
type Apache struct {
	// URL is "http://127.0.0.1:PORT".
	URL string
	// Dir is its server root: world-readable, so that files the test puts
	// there (users files, documents) can be read by Apache's worker user
	// when the test runs as root.
	Dir string
}

// StartApache runs Apache httpd (Debian: apache2) with its own config,
// pid file and logs in a fresh directory, loading modules (names as in
// mod_NAME.so) and the config text conf(dir) returns. It is stopped when
// the test ends; nothing else is touched. Without Apache the test skips,
// or fails under CI.
func StartApache(t testing.TB, modules []string, conf func(dir string) string) *Apache {
	t.Helper()
	var bin string
	for _, name := range []string{"apache2", "/usr/sbin/apache2", "httpd", "/usr/sbin/httpd"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		Unavailable(t, "Apache httpd is not installed (Debian: apt-get install apache2 apache2-utils)")
	}
	var modDir string
	for _, d := range []string{"/usr/lib/apache2/modules", "/usr/lib64/httpd/modules", "/usr/lib/httpd/modules", "/usr/local/apache2/modules"} {
		if _, err := os.Stat(filepath.Join(d, "mod_session_crypto.so")); err == nil {
			modDir = d
			break
		}
	}
	if modDir == "" {
		Unavailable(t, "Apache's mod_session_crypto.so not found")
	}
	dir, err := os.MkdirTemp("", "sessiond-apache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot %q\nListen 127.0.0.1:%d\nServerName 127.0.0.1\n", dir, port)
	fmt.Fprintf(&b, "PidFile %q\nErrorLog %q\nLogLevel info\nDefaultRuntimeDir %q\n",
		filepath.Join(dir, "httpd.pid"), filepath.Join(dir, "error.log"), dir)
	if _, err := os.Stat(filepath.Join(modDir, "mod_mpm_prefork.so")); err == nil {
		fmt.Fprintf(&b, "LoadModule mpm_prefork_module %s/mod_mpm_prefork.so\n", modDir)
	}
	for _, m := range modules {
		fmt.Fprintf(&b, "LoadModule %s_module %s/mod_%s.so\n", m, modDir, m)
	}
	if os.Geteuid() == 0 {
		b.WriteString("User #65534\nGroup #65534\n")
	}
	b.WriteString(conf(dir))
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", confPath, "-DFOREGROUND")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Apache signals its whole process group when it stops: give it its own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		Unavailable(t, "cannot start %s: %v", bin, err)
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
	a := &Apache{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("Apache exited at start; error.log:\n%s", log)
		default:
		}
		if resp, err := http.Get(a.URL + "/"); err == nil {
			resp.Body.Close()
			return a
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Fatalf("Apache did not answer on %s; error.log:\n%s", a.URL, log)
	return nil
}

// Htpasswd runs Apache's htpasswd tool (apache2-utils) with args, e.g.
// "-b", "-m", file, user, password.
func Htpasswd(t testing.TB, args ...string) {
	t.Helper()
	bin := LookPath(t, "htpasswd")
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("htpasswd %v: %v\n%s", args[:len(args)-1], err, out)
	}
}

// AuthForm is an Apache httpd with mod_auth_form signing users in from a
// users file into a mod_session_crypto cookie named "session" — what a
// site migrating to sessiond runs before.
type AuthForm struct {
	*Apache
	// Users is the users file Apache reads (add users with Htpasswd).
	Users string
}

// StartAuthForm runs Apache with AuthType form, AuthName authName,
// SessionCryptoPassphrase passphrase and SessionMaxAge 3600; the
// form-login-handler is at /dologin. setup runs on the users file path
// before Apache starts (add users there).
func StartAuthForm(t testing.TB, authName, passphrase string, setup func(users string)) *AuthForm {
	t.Helper()
	a := &AuthForm{}
	a.Apache = StartApache(t, []string{"authz_core", "authn_core", "authn_file", "auth_form", "request",
		"session", "session_cookie", "session_crypto"}, func(dir string) string {
		a.Users = filepath.Join(dir, "users")
		setup(a.Users)
		if err := os.Chmod(a.Users, 0o644); err != nil { // Apache's worker user reads it
			t.Fatal(err)
		}
		return fmt.Sprintf(`<Location />
  Require all granted
  Session On
  SessionCookieName session path=/;httponly
  SessionCryptoPassphrase %q
  SessionMaxAge 3600
</Location>
<Location /dologin>
  SetHandler form-login-handler
  AuthType form
  AuthName %q
  AuthFormProvider file
  AuthUserFile %q
  AuthFormLoginRequiredLocation /denied
  AuthFormLoginSuccessLocation /welcome
</Location>
`, passphrase, authName, a.Users)
	})
	return a
}

// Login signs user in through mod_auth_form and returns the session
// cookie Apache set (mod_session_crypto's sealed value).
func (a *AuthForm) Login(t testing.TB, user, password string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := "httpd_username=" + url.QueryEscape(user) + "&httpd_password=" + url.QueryEscape(password)
	resp, err := c.Post(a.URL+"/dologin", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.HasSuffix(loc, "/welcome") {
		log, _ := os.ReadFile(filepath.Join(a.Dir, "error.log"))
		t.Fatalf("Apache login of %q: %s to %q; error.log:\n%s", user, resp.Status, loc, log)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "session" && ck.Value != "" {
			return ck.Value
		}
	}
	t.Fatalf("Apache login of %q set no session cookie: %q", user, resp.Header.Values("Set-Cookie"))
	return ""
}

// CopyUsers writes the named users' lines of the htpasswd file src as the
// whole of dst (a gateway that knows some of Apache's users, with the
// hashes Apache's htpasswd made).
func CopyUsers(t testing.TB, src, dst string, users ...string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.SplitSeq(string(data), "\n") {
		name, _, _ := strings.Cut(line, ":")
		if slices.Contains(users, name) {
			out = append(out, line)
		}
	}
	if len(out) != len(users) {
		t.Fatalf("%s holds %d of the users %v", src, len(out), users)
	}
	if err := os.WriteFile(dst, []byte(strings.Join(out, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

package main_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testkit"
)

// built is the binary buildSessiond made, shared by every test of the run
// (TestMain removes it).
var built struct {
	once     sync.Once
	dir, bin string
	out      []byte
	err      error
}

// buildSessiond compiles the binary from this tree once per test run.
func buildSessiond(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "sessiond-e2e-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "sessiond")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

type proc struct {
	cmd    *exec.Cmd
	stdout *bufio.Reader
}

// startProc starts the binary and waits until a stdout line contains ready.
func startProc(t *testing.T, bin, ready string, args ...string) *proc {
	t.Helper()
	p, err := tryStartProc(t, bin, ready, args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// errPortTaken: the process could not bind a port it was given, which
// another process took after testenv.FreePort found it free.
var errPortTaken = errors.New("sessiond could not bind a port (taken since it was found free)")

// tryStartProc is startProc that returns why the binary exited before it
// was ready (errPortTaken if a listener's port was in use).
func tryStartProc(t *testing.T, bin, ready string, args ...string) (*proc, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, _ := cmd.StdoutPipe()
	var stderr testkit.Buffer
	cmd.Stderr = io.MultiWriter(os.Stderr, &stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdout: bufio.NewReader(out)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		for {
			l, err := p.stdout.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- l
		}
	}()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait() // stderr copied in full
				if strings.Contains(stderr.String(), "address already in use") {
					return nil, errPortTaken
				}
				return nil, errors.New("sessiond exited before it was ready")
			}
			if strings.Contains(l, ready) {
				go func() {
					for range lines {
					}
				}()
				return p, nil
			}
		case <-deadline:
			return nil, errors.New("sessiond not ready after 30s")
		}
	}
}

// client maps every *.localhost name to 127.0.0.1 and trusts the demo's
// self-signed certificate only for loopback.
func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, n, addr string) (net.Conn, error) {
				_, p, _ := net.SplitHostPort(addr)
				return (&net.Dialer{}).DialContext(ctx, n, "127.0.0.1:"+p)
			},
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the demo's own self-signed cert on loopback
		}}
}

type web struct {
	t *testing.T
	c *http.Client
}

func (w web) do(method, u string, form url.Values) (*http.Response, string) {
	w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		o, _ := url.Parse(u)
		req.Header.Set("Origin", o.Scheme+"://"+o.Host)
	}
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func field(page, name string) string {
	_, rest, ok := strings.Cut(page, `name="`+name+`" value="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func TestDemoShopFlow(t *testing.T) {
	bin := buildSessiond(t)
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	startProc(t, bin, "Ctrl-C stops", "demo", "--data", t.TempDir(),
		"--http", fmt.Sprintf("127.0.0.1:%d", hp), "--https", fmt.Sprintf("127.0.0.1:%d", sp))
	shopHTTP := fmt.Sprintf("http://shop.localhost:%d", hp)
	shopHTTPS := fmt.Sprintf("https://shop.localhost:%d", sp)
	w := web{t, client()}

	resp, _ := w.do("GET", shopHTTP+"/", nil)
	if resp.StatusCode != 200 || len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("GET / = %d with cookies %q; want 200 and no cookie (lazy sessions)", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	for _, p := range []string{"1", "3"} {
		resp, _ = w.do("POST", shopHTTP+"/cart/add", url.Values{"product": {p}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/cart" {
			t.Fatalf("add to cart = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if _, body := w.do("GET", shopHTTP+"/cart", nil); !strings.Contains(body, "cart: 1,3") {
		t.Fatalf("cart over HTTP:\n%s", body)
	}
	resp, _ = w.do("GET", shopHTTP+"/checkout", nil)
	// (The demo inspects: the target carries the inspector's note.)
	if to, _, _ := strings.Cut(resp.Header.Get("Location"), "?"); resp.StatusCode != http.StatusFound || to != shopHTTPS+"/checkout" {
		t.Fatalf("checkout over HTTP = %d to %q, want a redirect to HTTPS", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body := w.do("GET", shopHTTPS+"/checkout", nil); !strings.Contains(body, "cart: 1,3") {
		t.Fatalf("cart lost at checkout over HTTPS:\n%s", body)
	}
	// Log in as alice; she may not open /admin.
	_, page := w.do("GET", shopHTTPS+"/login", nil)
	resp, body := w.do("POST", shopHTTPS+"/login", url.Values{"csrf_token": {field(page, "csrf_token")},
		"username": {"alice"}, "password": {"alice-demo"}, "next": {"/account"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account" {
		t.Fatalf("login = %d to %q: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	_, account := w.do("GET", shopHTTPS+"/account", nil)
	if !strings.Contains(account, "alice") {
		t.Fatalf("account page does not show alice:\n%s", account)
	}
	if resp, _ := w.do("GET", shopHTTPS+"/admin", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("alice on /admin = %d, want 403", resp.StatusCode)
	}
	// Step down: the cart is still there over HTTP, alice is not shown.
	_, body = w.do("GET", shopHTTP+"/cart", nil)
	if !strings.Contains(body, "cart: 1,3") || strings.Contains(body, "alice") {
		t.Fatalf("cart over HTTP after checkout:\n%s", body)
	}
	// Log out with the account page's CSRF field.
	_, account = w.do("GET", shopHTTPS+"/account", nil)
	tok := field(account, "csrf_token")
	if tok == "" {
		t.Fatalf("no CSRF field in the logout form:\n%s", account)
	}
	resp, _ = w.do("POST", shopHTTPS+"/logout", url.Values{"csrf_token": {tok}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Clear-Site-Data") == "" {
		t.Fatalf("logout = %d", resp.StatusCode)
	}
	// admin may open /admin.
	admin := web{t, client()}
	_, page = admin.do("GET", shopHTTPS+"/login", nil)
	admin.do("POST", shopHTTPS+"/login", url.Values{"csrf_token": {field(page, "csrf_token")},
		"username": {"admin"}, "password": {"admin-demo"}, "next": {"/admin"}})
	if resp, _ := admin.do("GET", shopHTTPS+"/admin", nil); resp.StatusCode != 200 {
		t.Fatalf("admin on /admin = %d", resp.StatusCode)
	}

	// outlet: HTTPS only, its own cart.
	outlet := fmt.Sprintf("https://outlet.localhost:%d", sp)
	if resp, _ := w.do("GET", fmt.Sprintf("http://outlet.localhost:%d/cart", hp), nil); resp.StatusCode != http.StatusFound {
		t.Fatalf("outlet over HTTP = %d, want a redirect", resp.StatusCode)
	}
	w.do("POST", outlet+"/cart/add", url.Values{"product": {"2"}})
	if _, body := w.do("GET", outlet+"/cart", nil); !strings.Contains(body, "cart: 2") {
		t.Fatalf("outlet cart:\n%s", body)
	}
	// catalog: sessions off.
	resp, _ = w.do("GET", fmt.Sprintf("http://catalog.localhost:%d/products/1", hp), nil)
	if resp.StatusCode != 200 || len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("catalog = %d, cookies %q", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
}

func TestDemoRefusesNonLoopback(t *testing.T) {
	bin := buildSessiond(t)
	out, err := exec.Command(bin, "demo", "--http", "0.0.0.0:0", "--data", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "loopback") {
		t.Fatalf("demo on 0.0.0.0: err %v, output %s", err, out)
	}
}

func TestGracefulShutdown(t *testing.T) {
	bin := buildSessiond(t)
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	p := startProc(t, bin, "Ctrl-C stops", "demo", "--data", t.TempDir(),
		"--http", fmt.Sprintf("127.0.0.1:%d", hp), "--https", fmt.Sprintf("127.0.0.1:%d", sp))
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("sessiond did not stop within 15s of SIGTERM")
	}
}

func TestCommandsHaveHelp(t *testing.T) {
	bin := buildSessiond(t)
	for _, c := range []string{"serve", "check-config", "demo", "passwd", "version"} {
		t.Run(c, func(t *testing.T) {
			out, err := exec.Command(bin, c, "-h").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Usage: sessiond "+c) {
				t.Fatalf("%s -h: %v\n%s", c, err, out)
			}
		})
	}
}

package main_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
)

// TestAttackReloadMovesAdmin: reloads that move, remove and add the admin
// listener and change its token. On every address it listens on, the admin
// API and POST /reload refuse a missing, wrong or old token; an address it
// left stops answering; a move to a taken port fails as a whole (the running
// listeners and configuration stay); a storm of SIGHUPs moving the HTTPS
// listener back and forth under load ends serving the last configuration
// with no request failing on the address it was sent to before the move.
func TestAttackReloadMovesAdmin(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	dir := t.TempDir()
	hp := testenv.FreePort(t)
	tokenFile := filepath.Join(dir, "token")
	setToken := func(tok string) { os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600) }
	path := filepath.Join(dir, "sessiond.yaml")
	write := func(https, admin int, extraSite bool) {
		adminYAML := ""
		if admin != 0 {
			adminYAML = fmt.Sprintf("  admin: {addr: \"127.0.0.1:%d\", token_file: %s}\n", admin, tokenFile)
		}
		extra := ""
		if extraSite {
			extra = fmt.Sprintf("  - hosts: [new.localhost]\n    upstream: %s\n", up.srv.URL)
		}
		os.WriteFile(path, []byte(fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https: {addr: "127.0.0.1:%d", dev_tls: true}
%sstore:
  memory: {}
sites:
  - hosts: [app.localhost]
    upstream: %s
%s`, hp, https, adminYAML, up.srv.URL, extra)), 0o600)
	}
	oldTok, newTok := "first-admin-token-0123456789", "second-admin-token-9876543210"
	setToken(oldTok)
	sp, a1 := testenv.FreePort(t), testenv.FreePort(t)
	write(sp, a1, false)
	cmd, logs := startLogged(t, bin, "serve", "--config", path)
	hup := func(want string) {
		t.Helper()
		n := strings.Count(logs.String(), want)
		cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, logs, want, n+1)
	}

	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	admin := func(port int, method, p, tok string) (int, error) {
		req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", port, p), nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := fresh.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// guarded checks that port refuses everything but good.
	guarded := func(what string, port int, good string, bad ...string) {
		t.Helper()
		for _, tok := range append([]string{"", "x"}, bad...) {
			for _, rq := range [][2]string{{"GET", "/api/realms"}, {"POST", "/reload"}, {"GET", "/metrics"}, {"DELETE", "/api/realms/a/users/alice/sessions"}} {
				if code, err := admin(port, rq[0], rq[1], tok); err != nil || code != http.StatusUnauthorized {
					t.Fatalf("%s: %s %s with token %q = %d %v, want 401", what, rq[0], rq[1], tok, code, err)
				}
			}
		}
		if code, err := admin(port, "GET", "/api/realms", good); err != nil || code != http.StatusOK {
			t.Fatalf("%s: the right token = %d %v", what, code, err)
		}
	}
	gone := func(what string, port int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err != nil {
				return
			}
			conn.Close()
			if time.Now().After(deadline) {
				t.Fatalf("%s: port %d still answers 15s after the reload", what, port)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	guarded("at start", a1, oldTok)

	// Moved, same token.
	a2 := testenv.FreePort(t)
	write(sp, a2, false)
	hup("configuration reloaded")
	guarded("moved", a2, oldTok)
	gone("the old admin address", a1)

	// Removed, then added back elsewhere with a new token.
	write(sp, 0, false)
	hup("configuration reloaded")
	gone("the removed admin listener", a2)
	a3 := testenv.FreePort(t)
	setToken(newTok)
	write(sp, a3, false)
	hup("configuration reloaded")
	guarded("added back with a new token", a3, newTok, oldTok)

	// A move to a taken port fails as a whole: the admin listener stays
	// (token-protected), and the new site of that configuration is not in
	// force.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	write(sp, taken.Addr().(*net.TCPAddr).Port, true)
	hup("reload failed")
	guarded("after a failed move", a3, newTok, oldTok)
	c := client()
	if resp, err := c.Get(fmt.Sprintf("https://new.localhost:%d/", sp)); err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("the failed reload's new site: %v %v, want 421", resp, err)
	}

	// A SIGHUP storm moving HTTPS between two ports under load.
	sp2 := testenv.FreePort(t)
	var stop atomic.Bool
	var failures atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				for _, p := range []int{sp, sp2} {
					resp, err := client().Get(fmt.Sprintf("https://app.localhost:%d/who", p))
					if err == nil {
						if resp.StatusCode >= 500 {
							failures.Add(1)
						}
						resp.Body.Close()
					}
				}
			}
		})
	}
	for i := range 20 {
		if i%2 == 0 {
			write(sp2, a3, false)
		} else {
			write(sp, a3, false)
		}
		cmd.Process.Signal(syscall.SIGHUP)
		time.Sleep(30 * time.Millisecond)
	}
	write(sp2, a3, false)
	hup("configuration reloaded")
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d requests failed with 5xx during the SIGHUP storm", n)
	}
	if cmd.ProcessState != nil {
		t.Fatalf("sessiond exited during the storm:\n%s", logs)
	}
	if resp, err := client().Get(fmt.Sprintf("https://app.localhost:%d/who", sp2)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the storm the last HTTPS port answers %v %v", resp, err)
	}
	gone("the HTTPS port the storm left", sp)
	// Plain HTTP is sent to where HTTPS listens now, not where it was.
	resp, err := client().Get(fmt.Sprintf("http://app.localhost:%d/x", hp))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, fmt.Sprintf(":%d/", sp2)) {
		t.Fatalf("after the move plain HTTP redirects to %q, want port %d", loc, sp2)
	}
	guarded("after the storm", a3, newTok, oldTok)
}

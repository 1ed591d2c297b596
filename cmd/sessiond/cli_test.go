package main_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
)

// TestVersionAndHelp: --version is the version command (module version,
// Go version), and `help CMD` prints that command's own usage.
func TestVersionAndHelp(t *testing.T) {
	bin := buildSessiond(t)
	v1, err1 := exec.Command(bin, "--version").CombinedOutput()
	v2, err2 := exec.Command(bin, "version").CombinedOutput()
	if err1 != nil || err2 != nil || string(v1) != string(v2) || !strings.HasPrefix(string(v1), "sessiond ") ||
		!strings.Contains(string(v1), runtime.Version()) {
		t.Fatalf("--version %q (%v), version %q (%v)", v1, err1, v2, err2)
	}
	for _, c := range []string{"serve", "passwd", "reload", "check-config"} {
		out, err := exec.Command(bin, "help", c).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "Usage: sessiond "+c) {
			t.Fatalf("help %s: %v\n%s", c, err, out)
		}
	}
	if out, err := exec.Command(bin, "help", "nonsense").CombinedOutput(); err == nil {
		t.Fatalf("help for an unknown command succeeded:\n%s", out)
	}
}

// TestSessionsCommands: `sessiond sessions` lists, shows and revokes a
// user's sessions of a running gateway through its admin API, as a table
// or JSON, and a revoked session is gone for its browser.
func TestSessionsCommands(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("sessions-cli-token-0123456789\n"), 0o600)
	hp, sp, ap := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	cfg := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https: {addr: "127.0.0.1:%d", dev_tls: true}
  admin: {addr: "127.0.0.1:%d", token_file: token}
store: {memory: {}}
sites:
  - hosts: [app.localhost]
    upstream: %s
`, hp, sp, ap, up.srv.URL)
	os.WriteFile(filepath.Join(dir, "sessiond.yaml"), []byte(cfg), 0o600)
	startProc(t, bin, "sessiond: ready", "serve", "--config", filepath.Join(dir, "sessiond.yaml"))
	app := fmt.Sprintf("https://app.localhost:%d", sp)
	browsers := []*http.Client{client(), client()}
	for _, c := range browsers {
		resp, err := c.Get(app + "/?action=" + url.QueryEscape("login user=alice"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	user := func(c *http.Client) string {
		resp, err := c.Get(app + "/whoami")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return up.seen().Get("X-Session-User")
	}
	if user(browsers[0]) != "alice" || user(browsers[1]) != "alice" {
		t.Fatal("the backend login did not sign both browsers in")
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"sessions"}, append(args, "--admin", fmt.Sprintf("127.0.0.1:%d", ap), "--token-file", tokenFile)...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sessiond sessions %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	table := run("list", "alice")
	if !strings.HasPrefix(table, "REF") || !strings.Contains(table, "2 sessions of alice") {
		t.Fatalf("list:\n%s", table)
	}
	var l struct {
		Sessions []struct{ Ref, IP string }
	}
	if err := json.Unmarshal([]byte(run("list", "alice", "--json")), &l); err != nil || len(l.Sessions) != 2 {
		t.Fatalf("list --json: %v %+v", err, l)
	}
	ref := l.Sessions[0].Ref
	if show := run("show", "alice", ref); !strings.Contains(show, ref) || !strings.Contains(show, "127.0.0.1") {
		t.Fatalf("show:\n%s", show)
	}
	run("revoke", "alice", ref)
	if n := strings.Count(run("list", "alice"), "\n"); n != 3 { // header, one row, count line
		t.Fatalf("after revoking one: %d lines", n)
	}
	signedIn := 0
	for _, c := range browsers {
		if user(c) == "alice" {
			signedIn++
		}
	}
	if signedIn != 1 {
		t.Fatalf("after revoking one of two sessions, %d browsers are still signed in", signedIn)
	}
	run("revoke-user", "alice")
	if !strings.Contains(run("list", "alice"), "0 sessions of alice") {
		t.Fatal("revoke-user left sessions")
	}
	for _, c := range browsers {
		if user(c) != "" {
			t.Fatal("a browser is still signed in after revoke-user")
		}
	}
	cmd := exec.Command(bin, "sessions", "list", "alice", "--admin", fmt.Sprintf("127.0.0.1:%d", ap))
	cmd.Env = append(os.Environ(), "SESSIOND_ADMIN_TOKEN=wrong-token-0123456789")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "401") {
		t.Fatalf("a wrong token: %v\n%s", err, out)
	}
}

// TestCookieDecode: `sessiond cookie decode` opens a cookie-store session
// with the keys file, its name and its realm, and refuses a tampered
// cookie and one presented under another realm.
func TestCookieDecode(t *testing.T) {
	bin := buildSessiond(t)
	key := make([]byte, 32)
	rand.Read(key)
	keys := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(keys, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600)
	codec, err := cookie.New(cookie.Config{Keys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := &session.Record{Ref: "ref-of-the-cart", Realm: "shop", User: "alice", Data: map[string]string{"cart": "1,3"},
		Created: now, LastSeen: now, Saved: now, Rotated: now, Expires: now.Add(time.Hour)}
	value, err := codec.Encode(context.Background(), "__Host-sid", rec)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(realm, v string, extra ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"cookie", "decode", "--keys", keys, "--realm", realm}, extra...)...)
		cmd.Stdin = strings.NewReader(v + "\n")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := decode("shop", value)
	if err != nil || !strings.Contains(out, "ref-of-the-cart") || !strings.Contains(out, `cart = "1,3"`) || !strings.Contains(out, "alice") {
		t.Fatalf("decode: %v\n%s", err, out)
	}
	var j struct {
		Ref  string
		Data map[string]string
	}
	out, err = decode("shop", "__Host-sid="+value, "--json")
	if err != nil || json.Unmarshal([]byte(out), &j) != nil || j.Ref != "ref-of-the-cart" || j.Data["cart"] != "1,3" {
		t.Fatalf("decode --json of a Cookie header pair: %v\n%s", err, out)
	}
	if out, err := decode("outlet", value); err == nil {
		t.Fatalf("a cookie of realm shop opened as outlet:\n%s", out)
	}
	flipped := []byte(value)
	flipped[len(flipped)/2] ^= 1
	if out, err := decode("shop", string(flipped)); err == nil {
		t.Fatalf("a tampered cookie opened:\n%s", out)
	}
}

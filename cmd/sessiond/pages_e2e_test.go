package main_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
)

// TestPagesTemplatesReload: the built binary renders its error page from
// pages.templates_dir; a reload picks up a changed template; a template
// that does not parse is refused by check-config and by a reload (file
// and line named), and the last good pages keep serving.
func TestPagesTemplatesReload(t *testing.T) {
	bin := buildSessiond(t)
	dir := t.TempDir()
	tpl := filepath.Join(dir, "templates")
	os.Mkdir(tpl, 0o755)
	writeTemplate := func(text string) {
		if err := os.WriteFile(filepath.Join(tpl, "error.html"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeTemplate(`<!doctype html><title>{{.Title}}</title><h1 id="v1">Version one: {{.Message}}</h1>`)
	hp := testenv.FreePort(t)
	path := filepath.Join(dir, "sessiond.yaml")
	os.WriteFile(path, fmt.Appendf(nil, `listen:
  http: {addr: "127.0.0.1:%d"}
store:
  memory: {}
pages:
  templates_dir: templates
sites:
  - hosts: [app.localhost]
    upstream: http://127.0.0.1:1
    session: {mode: off}
`, hp), 0o600)
	cmd, logs := startLogged(t, bin, "serve", "--config", path)
	get := func() (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", hp), nil)
		req.Host = "app.localhost"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != http.StatusBadGateway || !strings.Contains(body, `<h1 id="v1">Version one: The site&#39;s backend is not answering.`) {
		t.Fatalf("backend down: %d\n%s", code, body)
	}

	writeTemplate(`<!doctype html><title>{{.Title}}</title><h1 id="v2">Version two</h1>`)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, logs, "configuration reloaded", 1)
	if code, body := get(); code != http.StatusBadGateway || !strings.Contains(body, `<h1 id="v2">`) {
		t.Fatalf("after the reload: %d\n%s", code, body)
	}

	writeTemplate("<!doctype html>\n<h1>{{if .Title}}unclosed</h1>")
	out, err := exec.Command(bin, "check-config", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), filepath.Join(tpl, "error.html")) || !strings.Contains(string(out), "error.html:2") {
		t.Errorf("check-config of a broken template: %v\n%s", err, out)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, logs, "reload failed", 1)
	if !strings.Contains(logs.String(), "pages.templates_dir") || !strings.Contains(logs.String(), "error.html:2") {
		t.Errorf("the failed reload does not name the key, file and line:\n%s", logs)
	}
	if code, body := get(); code != http.StatusBadGateway || !strings.Contains(body, `<h1 id="v2">`) {
		t.Fatalf("after a refused reload the last good template must serve: %d\n%s", code, body)
	}
}

package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/devtls"
)

// TestReadmeConfigExample keeps README.md honest: its gateway
// configuration example passes check-config (with placeholder files for
// the paths it names, and a real certificate: check-config loads it as
// serve does).
func TestReadmeConfigExample(t *testing.T) {
	m := readmeBlock(t, "(?s)```yaml\n(.*?)```", "README.md has no yaml example")
	dir := t.TempDir()
	cert, err := devtls.Generate(devtls.Options{Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath, err := cert.WriteFiles(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	os.Rename(certPath, filepath.Join(dir, "tls/cert.pem"))
	os.Rename(keyPath, filepath.Join(dir, "tls/key.pem"))
	for _, f := range []string{"secrets/admin-token", "users.htpasswd"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o700)
		content := "placeholder-token-0123456789abcdef0123456789\n"
		if f == "users.htpasswd" {
			content = "alice:$2y$05$AbCdEfGhIjKlMnOpQrStUuI1y6D2z5VQq6kS2v1qE9c8YQbJ0e7Wy\n"
		}
		os.WriteFile(filepath.Join(dir, f), []byte(content), 0o600)
	}
	os.MkdirAll(filepath.Join(dir, "data"), 0o700)
	cfg := filepath.Join(dir, "sessiond.yaml")
	os.WriteFile(cfg, m[1], 0o600)
	out, err := exec.Command(buildSessiond(t), "check-config", cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("README's config example fails check-config: %v\n%s", err, out)
	}
}

// TestReadmeLibraryExample keeps README.md's library program complete: it
// must compile as a main package of this module. The go command sees it
// through an overlay, so nothing is written into the source tree.
func TestReadmeLibraryExample(t *testing.T) {
	m := readmeBlock(t, "(?s)## Library\n.*?```go\n(.*?)```", "README.md's Library section has no go example")
	if !strings.HasPrefix(string(m[1]), "package main\n") {
		t.Fatalf("README's library example is not a complete program:\n%s", m[1])
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, m[1], 0o600); err != nil {
		t.Fatal(err)
	}
	virtual := filepath.Join(root, "internal", "readmeexample", "main.go")
	overlay := filepath.Join(dir, "overlay.json")
	js := `{"Replace":{` + strconv.Quote(virtual) + `:` + strconv.Quote(src) + `}}`
	if err := os.WriteFile(overlay, []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-overlay", overlay, "-o", filepath.Join(dir, "example"), "./internal/readmeexample")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("README's library example does not compile: %v\n%s", err, out)
	}
}

// readmeBlock finds pattern in README.md; m[1] is the block's text.
func readmeBlock(t *testing.T, pattern, missing string) [][]byte {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(pattern).FindSubmatch(readme)
	if m == nil {
		t.Fatal(missing)
	}
	return m
}

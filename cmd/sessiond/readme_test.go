package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/devtls"
)

// TestReadmeConfigExample keeps README.md honest: its gateway
// configuration example passes check-config (with placeholder files for
// the paths it names, and a real certificate: check-config loads it as
// serve does).
func TestReadmeConfigExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no yaml example")
	}
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

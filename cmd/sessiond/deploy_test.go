package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/acme/acmetest"
	"github.com/sessiond/sessiond/internal/testenv"
)

// TestDeployConfigs runs the README's four deployment shapes
// (docs/deploy/*.yaml) as written, moved to a temporary directory and free
// loopback ports: check-config accepts each and serve starts with it. The
// ACME ones order from a Pebble CA instead of Let's Encrypt; alone with
// ACME, the certificate is obtained over the listeners as configured.
func TestDeployConfigs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary and an ACME CA")
	}
	bin := buildSessiond(t)
	files, _ := filepath.Glob("../../docs/deploy/*.yaml")
	if len(files) != 4 {
		t.Fatalf("docs/deploy holds %d configurations, want the four shapes", len(files))
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := "docs/deploy/" + filepath.Base(f); !strings.Contains(string(readme), name) {
			t.Errorf("README.md's Deploy section does not name %s", name)
		}
	}
	addrRE := regexp.MustCompile(`addr: "[^"]*"`)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			cfg := strings.NewReplacer("/var/lib/sessiond", dir, "/etc/sessiond", dir).Replace(string(data))
			var ports []int
			cfg = addrRE.ReplaceAllStringFunc(cfg, func(string) string {
				ports = append(ports, testenv.FreePort(t))
				return fmt.Sprintf(`addr: "127.0.0.1:%d"`, ports[len(ports)-1])
			})
			var ca *acmetest.Pebble
			if strings.Contains(cfg, "acme:") {
				// The CA validates http-01 on the first listener (http).
				ca = acmetest.StartPebble(t, acmetest.PebbleOptions{HTTPPort: ports[0]})
				extra := fmt.Sprintf("ca: %s, ca_root: %s", ca.Directory, ca.RootFile)
				cfg = strings.Replace(cfg, "acme: {email: ops@example.com}", "acme: {email: ops@example.com, "+extra+"}", 1)
				cfg = regexp.MustCompile(`(?m)^( +)email: ops@example.com.*$`).ReplaceAllString(cfg,
					fmt.Sprintf("${1}email: ops@example.com\n${1}ca: %s\n${1}ca_root: %s", ca.Directory, ca.RootFile))
				if !strings.Contains(cfg, ca.Directory) {
					t.Fatal("could not point acme at the test CA")
				}
			}
			if strings.Contains(cfg, "users.htpasswd") {
				cmd := exec.Command(bin, "passwd", "-cost", "4", filepath.Join(dir, "users.htpasswd"), "alice")
				cmd.Stdin = strings.NewReader("alice-pw\n")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("sessiond passwd: %v\n%s", err, out)
				}
			}
			path := filepath.Join(dir, "sessiond.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "check-config", path).CombinedOutput(); err != nil {
				t.Fatalf("check-config: %v\n%s\n%s", err, out, cfg)
			}
			startLogged(t, bin, "serve", "--config", path)
			if ca == nil || strings.Contains(cfg, "proxy_protocol: true") {
				return // the CA is not a trusted proxy: it cannot validate there
			}
			roots := ca.IssuerRoots(t)
			waitUntil(t, 60*time.Second, "no certificate for app.example.com", func() bool {
				return acmeCert(fmt.Sprintf("127.0.0.1:%d", ports[1]), "app.example.com", roots) != nil
			})
		})
	}
}

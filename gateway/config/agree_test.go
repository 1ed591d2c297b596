package config_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/internal/devtls"
)

// TestCheckConfigAgreesWithServe runs every testdata/*.yaml through the
// built binary twice — `check-config FILE` and `serve --config FILE`
// (started on loopback ephemeral ports, stopped once ready) — and fails
// when one accepts a file the other refuses. The files' listen addresses
// are moved to free loopback ports first; everything else is as written,
// with the files they name created for real (and a real certificate, or,
// in the "bad certificate" round, the fake one that no TLS stack parses).
func TestCheckConfigAgreesWithServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the binary")
	}
	bin := filepath.Join(t.TempDir(), "sessiond")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sessiond/sessiond/cmd/sessiond").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cert, err := devtls.Generate(devtls.Options{Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	certDir := t.TempDir()
	certPath, keyPath, err := cert.WriteFiles(certDir)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte("alice-pw"))
	users := []byte("alice:{SHA}" + base64.StdEncoding.EncodeToString(sum[:]) + "\n")
	certPEM, _ := os.ReadFile(certPath)
	keyPEM, _ := os.ReadFile(keyPath)

	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) < 20 {
		t.Fatalf("only %d testdata files", len(files))
	}
	accepted := map[string]bool{}
	for _, round := range []struct {
		name    string
		replace map[string][]byte
	}{
		{"real certificate", map[string][]byte{"tls/cert.pem": certPEM, "tls/key.pem": keyPEM, "users.htpasswd": users}},
		{"bad certificate", nil}, // and a users file with a malformed hash
	} {
		for _, file := range files {
			name := filepath.Base(file)
			t.Run(round.name+"/"+name, func(t *testing.T) {
				dir := t.TempDir()
				if err := config.WriteTestFiles(dir, round.replace); err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), onFreePorts(t, data), 0o600); err != nil {
					t.Fatal(err)
				}
				checkOut, checkErr := run(dir, bin, "check-config", name)
				serveOK, serveOut := startServe(t, dir, bin, name)
				checkOK := checkErr == nil
				if checkOK != serveOK {
					t.Fatalf("check-config ok=%v but serve started=%v\ncheck-config:\n%s\nserve:\n%s", checkOK, serveOK, checkOut, serveOut)
				}
				accepted[round.name+"/"+name] = checkOK
				for _, line := range strings.Split(checkOut, "\n") {
					if strings.Count(line, name+":") > 1 {
						t.Errorf("the file name is repeated in %q", line)
					}
				}
			})
		}
	}
	// The comparison means something only if both outcomes occur.
	for _, must := range []string{"real certificate/example.yaml", "real certificate/minimal.yaml"} {
		if !accepted[must] {
			t.Errorf("%s was refused; a valid file must start", must)
		}
	}
	for _, mustNot := range []string{"bad certificate/example.yaml", "real certificate/unknown_key.yaml"} {
		if accepted[mustNot] {
			t.Errorf("%s was accepted", mustNot)
		}
	}
}

func environ() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range config.FixedEnv() {
		if k == "PG_DSN" {
			v = "postgres://sessiond@127.0.0.1:1/none" // only loopback is ever a target
		}
		env = append(env, k+"="+v)
	}
	return env
}

func run(dir, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, environ()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// startServe starts `serve` and reports whether it got ready; it is
// stopped with SIGTERM either way.
func startServe(t *testing.T, dir, bin, name string) (bool, string) {
	cmd := exec.Command(bin, "serve", "--config", name)
	cmd.Dir, cmd.Env = dir, environ()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	var stdout strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			stdout.WriteString(sc.Text() + "\n")
			if sc.Text() == "sessiond: ready" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	var ok bool
	select {
	case ok = <-ready:
	case <-time.After(30 * time.Second):
		t.Error("serve neither started nor failed within 30s")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	return ok, stdout.String() + stderr.String()
}

var (
	addrRe      = regexp.MustCompile(`(addr:\s*"?)([0-9a-zA-Z.:\[\]-]*):([0-9]+)`)
	httpKeyRe   = regexp.MustCompile(`(?m)^  http:`)
	httpsFlowRe = regexp.MustCompile(`(?m)^  https: \{([^}]*)\}`)
)

// onFreePorts moves a configuration's listeners to free loopback ports:
// every addr's port (a wildcard host becomes 127.0.0.2, so nothing listens
// beyond loopback), plus an explicit address where the default would apply.
func onFreePorts(t *testing.T, data []byte) []byte {
	s := addrRe.ReplaceAllStringFunc(string(data), func(m string) string {
		g := addrRe.FindStringSubmatch(m)
		if n, err := strconv.Atoi(g[3]); err != nil || n < 1 || n > 65535 {
			return m
		}
		host := g[2]
		if host == "0.0.0.0" || host == "" || host == "[::]" {
			host = "127.0.0.2"
		}
		return g[1] + net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(freePort(t)))
	})
	s = httpsFlowRe.ReplaceAllStringFunc(s, func(m string) string {
		if strings.Contains(m, "addr") {
			return m
		}
		return strings.Replace(m, "{", fmt.Sprintf("{addr: 127.0.0.1:%d, ", freePort(t)), 1)
	})
	if rest, ok := strings.CutPrefix(s, "listen:\n"); ok && !httpKeyRe.MatchString(s) {
		s = fmt.Sprintf("listen:\n  http: {addr: 127.0.0.1:%d}\n", freePort(t)) + rest
	}
	return []byte(s)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

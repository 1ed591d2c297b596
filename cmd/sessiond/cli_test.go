package main_test

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
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

package session_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStdlibOnly keeps package session free of third-party code: what it
// imports, directly or not, is the standard library or this module's
// stdlib-only internal packages.
func TestStdlibOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/sessiond/sessiond/session":        true,
		"github.com/sessiond/sessiond/internal/token": true,
	}
	for _, p := range strings.Fields(string(out)) {
		if !allowed[p] {
			t.Errorf("package session depends on %s; it must stay standard-library only", p)
		}
	}
}

package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// StdlibOnly fails t if the package in the current directory imports,
// directly or not, anything but the standard library and the packages
// allowed (give the package's own import path too).
func StdlibOnly(t testing.TB, allowed ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	ok := map[string]bool{}
	for _, p := range allowed {
		ok[p] = true
	}
	for _, p := range strings.Fields(string(out)) {
		if !ok[p] {
			t.Errorf("this package depends on %s; it must stay standard-library only", p)
		}
	}
}

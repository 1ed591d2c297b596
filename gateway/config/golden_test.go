package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// render is what a golden file holds: one line per error, then one per
// warning, as an operator would see them.
func render(warns []Warning, err error) string {
	var b strings.Builder
	for _, e := range Errors(err) {
		b.WriteString("error: " + e.Error() + "\n")
	}
	for _, w := range warns {
		b.WriteString("warning: " + w.String() + "\n")
	}
	if b.Len() == 0 {
		b.WriteString("ok\n")
	}
	return b.String()
}

// TestGolden loads every testdata/*.yaml (each shows one class of mistake,
// or a valid file) and compares errors and warnings with the .golden file
// beside it. Run with -update to rewrite the golden files, then review the
// diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cfg, warns, err := Load(filepath.Base(file), data, testOptions(nil)...)
			if (cfg == nil) != (err != nil) {
				t.Fatalf("Load returned config %v with error %v", cfg != nil, err)
			}
			checkGolden(t, strings.TrimSuffix(file, ".yaml")+".golden", render(warns, err))
		})
	}
}

// checkGolden compares got with the file golden, or rewrites it with
// -update.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", golden, diff)
	}
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load: it must never panic, must return
// a config exactly when it returns no error, and every error must be a
// *FieldError with a sane position. Seeds are the golden test files.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("sites: [{hosts: [a], upstream: 'http://x', session: {mode: mixed}, redirects: {rules: [{form: '#a'}]}}]"))
	opts := testOptions(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warns, err := Load("fuzz.yaml", data, opts...)
		if (cfg == nil) != (err != nil) {
			t.Fatalf("config %v with error %v", cfg != nil, err)
		}
		lines := strings.Count(string(data), "\n") + 2
		for _, e := range Errors(err) {
			if e.Line < 0 || e.Line > lines || e.Msg == "" {
				t.Fatalf("bad error position or text: %#v", e)
			}
		}
		if err != nil && len(Errors(err)) == 0 {
			t.Fatalf("error without FieldErrors: %v", err)
		}
		for _, w := range warns {
			if w.Msg == "" {
				t.Fatalf("empty warning: %#v", w)
			}
		}
	})
}

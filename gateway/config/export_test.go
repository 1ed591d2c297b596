package config

import (
	"os"
	"path/filepath"
)

// WriteTestFiles writes the files that the testdata configurations name
// (the fake file system's testBase) into dir, with their modes, so that a
// real process can load them. replace swaps the content of some of them.
func WriteTestFiles(dir string, replace map[string][]byte) error {
	for name, f := range testFS().m {
		rel, _ := filepath.Rel(testBase[1:], name)
		path := filepath.Join(dir, rel)
		if f.Mode.IsDir() {
			if err := os.MkdirAll(path, f.Mode.Perm()); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		data := f.Data
		if r, ok := replace[rel]; ok {
			data = r
		}
		if err := os.WriteFile(path, data, f.Mode.Perm()); err != nil {
			return err
		}
		if err := os.Chmod(path, f.Mode.Perm()); err != nil {
			return err
		}
	}
	return nil
}

// FixedEnv is the fixed environment the testdata configurations expect.
func FixedEnv() map[string]string {
	env := map[string]string{}
	lookup := testEnv(nil)
	for _, k := range []string{"PG_DSN", "SESSIOND_REDIS_URL"} {
		env[k], _ = lookup(k)
	}
	return env
}

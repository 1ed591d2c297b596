package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/store/cookie"
)

// TestKeyFileOneParser: serve (this package) and `sessiond cookie decode`
// (cookie.ReadKeyFile) read a key file alike, in every form the docs
// name: hex, standard and URL base64, padded or not, with comments.
func TestKeyFileOneParser(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	text := "# newest first\n" + strings.Repeat("ab", KeySize) + "\n" + testKey1 + "\n\n" + testKey2 + "\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	served, err := ParseKeys(file, []byte(text))
	if err != nil {
		t.Fatalf("serve refuses the key file: %v", err)
	}
	decoded, err := cookie.ReadKeyFile(file)
	if err != nil {
		t.Fatalf("cookie decode refuses the key file: %v", err)
	}
	if len(served) != 3 || !cmp.Equal(served, decoded) {
		t.Fatalf("serve read %d keys, cookie decode %d, or different ones", len(served), len(decoded))
	}
}

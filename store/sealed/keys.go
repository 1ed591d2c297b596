package sealed

import "github.com/sessiond/sessiond/internal/seal"

// ParseKeys reads Config.Keys from text: one key per line (64 hex digits or
// base64 of 32 bytes), current key first; blank lines and '#' comments are
// skipped. Errors name the line and the problem, never the key.
func ParseKeys(text string) ([][]byte, error) { return seal.ParseKeys(text) }

// ReadKeyFile reads Config.Keys from a key file in ParseKeys's form.
func ReadKeyFile(path string) ([][]byte, error) { return seal.ReadKeyFile(path) }

// GenerateKey returns a fresh random key.
func GenerateKey() []byte { return seal.GenerateKey() }

// FormatKey writes a key as unpadded base64url, a form ParseKeys reads.
func FormatKey(k []byte) string { return seal.FormatKey(k) }

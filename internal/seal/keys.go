package seal

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Keys are written as text in one of two forms, told apart by length:
// 64 hex digits, or base64 of 32 bytes (43 characters unpadded or 44
// padded, standard or URL alphabet). A key file holds one key per line, the
// current key first; blank lines and lines starting with '#' are skipped.
//
// Error messages say what is wrong (length, encoding, line) and never
// include the key or any character of it.

// GenerateKey returns a fresh random key.
func GenerateKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // never fails (Go 1.24+)
	return k
}

// FormatKey writes a key as unpadded base64url, the form ParseKey reads.
func FormatKey(k []byte) string { return base64.RawURLEncoding.EncodeToString(k) }

// ParseKey reads one key written as hex or base64 (surrounding spaces are
// ignored). Errors wrap ErrInvalidKey.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	k, err := parseKey(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return k, nil
}

func parseKey(s string) ([]byte, error) {
	var k []byte
	switch len(s) {
	case 0:
		return nil, errors.New("empty")
	case 2 * KeySize:
		k = make([]byte, KeySize)
		if _, err := hex.Decode(k, []byte(s)); err != nil {
			var bad hex.InvalidByteError
			if errors.As(err, &bad) {
				return nil, fmt.Errorf("%d characters but not hex (bad character at position %d)", len(s), strings.IndexByte(s, byte(bad))+1)
			}
			return nil, fmt.Errorf("%d characters but not hex", len(s))
		}
	case base64.RawStdEncoding.EncodedLen(KeySize), base64.StdEncoding.EncodedLen(KeySize):
		enc := base64.RawStdEncoding
		if strings.ContainsAny(s, "-_") {
			enc = base64.RawURLEncoding
		}
		b, err := enc.Strict().DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			var bad base64.CorruptInputError
			if errors.As(err, &bad) {
				return nil, fmt.Errorf("%d characters but not base64 (bad character at position %d)", len(s), int64(bad)+1)
			}
			return nil, fmt.Errorf("%d characters but not base64", len(s))
		}
		if len(b) != KeySize {
			return nil, fmt.Errorf("decodes to %d bytes, want %d", len(b), KeySize)
		}
		k = b
	default:
		return nil, fmt.Errorf("%d characters; want %d hex digits or %d/%d base64 characters (%d bytes)",
			len(s), 2*KeySize, base64.RawStdEncoding.EncodedLen(KeySize), base64.StdEncoding.EncodedLen(KeySize), KeySize)
	}
	if err := checkKey(k); err != nil {
		return nil, err
	}
	return k, nil
}

// ParseKeys reads a key list: one key per line, current key first; blank
// lines and '#' comments are skipped. It fails on an empty list, a bad key
// (naming its line) and a key listed twice. Errors wrap ErrInvalidKey.
func ParseKeys(text string) ([][]byte, error) {
	var keys [][]byte
	lineOf := map[string]int{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseKey(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrInvalidKey, i+1, err)
		}
		if first, dup := lineOf[string(k)]; dup {
			return nil, fmt.Errorf("%w: line %d repeats the key on line %d", ErrInvalidKey, i+1, first)
		}
		lineOf[string(k)] = i + 1
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key found (one key per line, current key first)", ErrInvalidKey)
	}
	return keys, nil
}

// maxKeyFile bounds what ReadKeyFile reads: a key file is a few lines.
const maxKeyFile = 64 << 10

// ReadKeyFile reads a key file (see ParseKeys). Errors name the file and
// the line, never a key.
func ReadKeyFile(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	defer clear(buf)
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	if len(buf) > maxKeyFile {
		return nil, fmt.Errorf("%w: key file %s is larger than %d bytes", ErrInvalidKey, path, maxKeyFile)
	}
	keys, err := ParseKeys(string(buf))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return keys, nil
}

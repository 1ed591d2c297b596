package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// leaks reports whether msg contains any 6-character run of the key text.
func leaks(msg, keyText string) bool {
	for i := 0; i+6 <= len(keyText); i++ {
		if strings.Contains(msg, keyText[i:i+6]) {
			return true
		}
	}
	return false
}

func TestParseKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb, 0xef, 0x3e}, 11)[:KeySize] // has '+', '/', '-', '_' in base64
	hexKey := hex.EncodeToString(raw)
	cases := []struct {
		name    string
		in      string
		wantErr string // "" = must parse to raw
	}{
		{"hex", hexKey, ""},
		{"hex upper case", strings.ToUpper(hexKey), ""},
		{"base64 std padded", base64.StdEncoding.EncodeToString(raw), ""},
		{"base64 std raw", base64.RawStdEncoding.EncodeToString(raw), ""},
		{"base64url padded", base64.URLEncoding.EncodeToString(raw), ""},
		{"base64url raw", FormatKey(raw), ""},
		{"surrounding space", "  " + FormatKey(raw) + "\r\n", ""},
		{"empty", "", "empty"},
		{"short hex", hexKey[:62], "62 characters; want 64 hex digits"},
		{"31 bytes base64", base64.StdEncoding.EncodeToString(raw[:31]), "decodes to 31 bytes, want 32"},
		{"bad hex character", hexKey[:10] + "g" + hexKey[11:], "not hex (bad character at position 11)"},
		{"bad base64 character", FormatKey(raw)[:5] + "!" + FormatKey(raw)[6:], "not base64 (bad character at position 6)"},
		{"mixed alphabets", "+" + FormatKey(raw)[1:42] + "_", "not base64"},
		{"zero key", strings.Repeat("0", 64), "all zero"},
		{"passphrase", "correct horse battery staple", "28 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey(tc.in)
			if tc.wantErr == "" {
				if err != nil || !bytes.Equal(got, raw) {
					t.Fatalf("ParseKey = %x, %v; want %x", got, err, raw)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseKey accepted %q", tc.in)
			}
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("error %v does not wrap ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not say %q", err, tc.wantErr)
			}
			if leaks(err.Error(), strings.TrimSpace(tc.in)) {
				t.Errorf("error %q echoes the key", err)
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	k1, k2 := GenerateKey(), GenerateKey()
	cases := []struct {
		name    string
		text    string
		want    [][]byte
		wantErr string
	}{
		{"one", FormatKey(k1), [][]byte{k1}, ""},
		{"current first, comments and blanks skipped",
			"# rotated 2026-01\n\n" + FormatKey(k2) + "\n  # old\n" + hex.EncodeToString(k1) + "\n", [][]byte{k2, k1}, ""},
		{"CRLF", FormatKey(k1) + "\r\n" + FormatKey(k2) + "\r\n", [][]byte{k1, k2}, ""},
		{"empty", "", nil, "no key found"},
		{"only comments", "# nothing\n", nil, "no key found"},
		{"bad line named", FormatKey(k1) + "\n\nnot-a-key\n", nil, "line 3: 9 characters"},
		{"duplicate", FormatKey(k1) + "\n" + hex.EncodeToString(k1), nil, "line 2 repeats the key on line 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKeys(tc.text)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseKeys error = %v, want ErrInvalidKey saying %q", err, tc.wantErr)
				}
				if leaks(err.Error(), FormatKey(k1)) || leaks(err.Error(), hex.EncodeToString(k1)) {
					t.Fatalf("error %q echoes a key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d keys, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Fatalf("key %d differs", i+1)
				}
			}
		})
	}
}

func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	k := GenerateKey()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", FormatKey(k)+"\n")
	bad := write("bad", FormatKey(k)+"\n"+FormatKey(k)[:40]+"\n")
	huge := write("huge", strings.Repeat("#\n", maxKeyFile))
	cases := []struct {
		name    string
		path    string
		wantErr string
		invalid bool
	}{
		{"good", good, "", false},
		{"missing", filepath.Join(dir, "missing"), "no such file", false},
		{"bad line", bad, "key file " + bad + ": seal: invalid key: line 2: 40 characters", true},
		{"too large", huge, "larger than", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ReadKeyFile(tc.path)
			if tc.wantErr == "" {
				if err != nil || len(keys) != 1 || !bytes.Equal(keys[0], k) {
					t.Fatalf("ReadKeyFile = %d keys, %v", len(keys), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ReadKeyFile error = %v, want one saying %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrInvalidKey) != tc.invalid {
				t.Fatalf("errors.Is(err, ErrInvalidKey) = %v, want %v", !tc.invalid, tc.invalid)
			}
			if leaks(err.Error(), FormatKey(k)) {
				t.Fatalf("error %q echoes the key", err)
			}
		})
	}
}

func TestGenerateKeyWorksInARing(t *testing.T) {
	a, b := GenerateKey(), GenerateKey()
	if bytes.Equal(a, b) || len(a) != KeySize {
		t.Fatal("GenerateKey returned a repeated or short key")
	}
	back, err := ParseKey(FormatKey(a))
	if err != nil || !bytes.Equal(back, a) {
		t.Fatalf("FormatKey does not round-trip through ParseKey: %v", err)
	}
	if _, err := New(Config{Purpose: "p", Keys: [][]byte{a, b}}); err != nil {
		t.Fatal(err)
	}
}

package modcrypto

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func expiryAt(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

func newDecoder(t *testing.T, opts Options, passphrases ...string) *Decoder {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	d, err := New(passphrases, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDecode(t *testing.T) {
	future := expiryAt(testNow.Add(10 * time.Minute))
	cases := []struct {
		name    string
		opts    Options
		phrases []string
		cookie  sealed
		want    *Session
		wantErr error
	}{
		{
			name:    "no expiry",
			phrases: []string{"secret"},
			cookie:  sealed{pass: "secret", payload: "user=alice&cart=1%2C2"},
			want:    &Session{Values: map[string]string{"user": "alice", "cart": "1,2"}},
		},
		{
			name:    "future expiry",
			phrases: []string{"secret"},
			cookie:  sealed{pass: "secret", payload: "user=alice&expiry=" + future},
			want:    &Session{Values: map[string]string{"user": "alice"}, Expiry: testNow.Add(10 * time.Minute)},
		},
		{
			name:    "expired",
			phrases: []string{"secret"},
			cookie:  sealed{pass: "secret", payload: "user=alice&expiry=" + expiryAt(testNow.Add(-time.Microsecond))},
			wantErr: ErrExpired,
		},
		{
			name:    "require expiry",
			opts:    Options{RequireExpiry: true},
			phrases: []string{"secret"},
			cookie:  sealed{pass: "secret", payload: "user=alice"},
			wantErr: ErrExpired,
		},
		{
			name:    "second passphrase of the ring",
			phrases: []string{"new", "old"},
			cookie:  sealed{pass: "old", payload: "a=1"},
			want:    &Session{Values: map[string]string{"a": "1"}},
		},
		{
			name:    "aes128",
			opts:    Options{Cipher: "aes128"},
			phrases: []string{"secret"},
			cookie:  sealed{pass: "secret", payload: "a=1", keyLen: 16},
			want:    &Session{Values: map[string]string{"a": "1"}},
		},
		{
			name:    "wrong passphrase",
			phrases: []string{"secret"},
			cookie:  sealed{pass: "guess", payload: "user=admin"},
			wantErr: ErrInvalid,
		},
		{
			name:    "pre-2.4.25 cookie without MAC",
			phrases: []string{"secret"},
			cookie:  sealed{pass: "secret", payload: "user=alice", noMAC: true},
			wantErr: ErrInvalid,
		},
		{
			name:    "authentic but bad padding",
			phrases: []string{"secret"},
			cookie:  sealed{pass: "secret", payload: "user=alice", badPad: true},
			wantErr: ErrInvalid,
		},
		{
			name:    "expiry not a number",
			phrases: []string{"secret"},
			cookie:  sealed{pass: "secret", payload: "user=alice&expiry=soon"},
			wantErr: ErrInvalid,
		},
		{
			name:    "empty session",
			phrases: []string{"secret"},
			cookie:  sealed{pass: "secret", payload: ""},
			want:    &Session{Values: map[string]string{}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecoder(t, tc.opts, tc.phrases...)
			got, err := d.Decode(tc.cookie.encode(t))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Decode error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Session{}, "Digest")); diff != "" {
				t.Fatalf("Decode (-want +got):\n%s", diff)
			}
			if len(got.Digest) != 32 {
				t.Fatalf("Digest %q, want 32 hex digits", got.Digest)
			}
		})
	}
}

// TestTamper flips, cuts and pads a valid cookie: every change is refused
// with ErrInvalid, and none of them runs PBKDF2.
func TestTamper(t *testing.T) {
	good := sealed{pass: "secret", payload: "user=alice&role=admin&pad=0123456789abcdef"}.encode(t)
	raw, _ := base64.StdEncoding.DecodeString(good)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return base64.StdEncoding.EncodeToString(b)
	}
	cases := map[string]string{
		"flip MAC":         flip(0),
		"flip salt":        flip(macSize + 3),
		"flip IV":          flip(macSize + saltSize + 5),
		"flip ciphertext":  flip(len(raw) - 1),
		"drop last block":  base64.StdEncoding.EncodeToString(raw[:len(raw)-16]),
		"drop one byte":    base64.StdEncoding.EncodeToString(raw[:len(raw)-1]),
		"append a block":   base64.StdEncoding.EncodeToString(append(append([]byte{}, raw...), make([]byte, 16)...)),
		"only MAC+salt+IV": base64.StdEncoding.EncodeToString(raw[:macSize+saltSize+ivSize]),
		"empty":            "",
		"not base64":       "***" + good[3:],
		"too long":         strings.Repeat("A", MaxCookieLen+4),
		"url alphabet":     strings.NewReplacer("+", "-", "/", "_").Replace(good) + "-_",
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			d := newDecoder(t, Options{}, "secret")
			if _, err := d.Decode(value); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode = %v, want ErrInvalid", err)
			}
			if n := d.cache.len(); n != 0 {
				t.Fatalf("a refused cookie derived %d keys; PBKDF2 must run only after the MAC matched", n)
			}
		})
	}
}

func TestUnpaddedBase64(t *testing.T) {
	good := sealed{pass: "secret", payload: "a=1"}.encode(t)
	d := newDecoder(t, Options{}, "secret")
	if _, err := d.Decode(strings.TrimRight(good, "=")); err != nil {
		t.Fatalf("unpadded value refused: %v", err)
	}
}

func TestParsePayload(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		want    map[string]string
	}{
		{"plain", "a=1&b=2", map[string]string{"a": "1", "b": "2"}},
		{"empty pairs", "&&a=1&&", map[string]string{"a": "1"}},
		{"escapes", "k%20ey=v%2Fal", map[string]string{"k ey": "v/al"}},
		{"plus is a space", "a=1+2&b=%2B", map[string]string{"a": "1 2", "b": "+"}},
		{"bad escape skipped", "a=%zz&b=2&c=%4", map[string]string{"b": "2"}},
		{"NUL skipped", "a=x%00y&b=2", map[string]string{"b": "2"}},
		{"empty value deletes", "a=1&a=", map[string]string{}},
		{"bare key deletes", "a=1&a", map[string]string{}},
		{"runs of equals", "a==1=2", map[string]string{"a": "1"}},
		{"leading equals", "=a=1", map[string]string{"a": "1"}},
		{"later wins", "a=1&a=2", map[string]string{"a": "2"}},
		{"zero expiry is none", "expiry=0&a=1", map[string]string{"a": "1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parsePayload(tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, s.Values); diff != "" {
				t.Fatalf("parsePayload(%q) (-want +got):\n%s", tc.payload, diff)
			}
			if !s.Expiry.IsZero() {
				t.Fatalf("Expiry = %v, want none", s.Expiry)
			}
		})
	}
}

func TestCacheIsBoundedAndUsed(t *testing.T) {
	d := newDecoder(t, Options{CacheSize: 4}, "secret")
	cookie := sealed{pass: "secret", payload: "a=1"}.encode(t)
	for range 3 {
		if _, err := d.Decode(cookie); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.cache.len(); n != 1 {
		t.Fatalf("one cookie decoded three times left %d cached keys, want 1", n)
	}
	for i := range 10 {
		if _, err := d.Decode(sealed{pass: "secret", payload: fmt.Sprint("n=", i)}.encode(t)); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.cache.len(); n != 4 {
		t.Fatalf("cache holds %d keys, want its bound 4", n)
	}
}

func TestNewRejects(t *testing.T) {
	cases := []struct {
		name    string
		phrases []string
		opts    Options
		want    string
	}{
		{"no passphrase", nil, Options{}, "no passphrase"},
		{"empty passphrase", []string{"a", ""}, Options{}, "passphrase 2 is empty"},
		{"unknown cipher", []string{"a"}, Options{Cipher: "3des192"}, "not supported"},
		{"negative cache", []string{"a"}, Options{CacheSize: -1}, "CacheSize"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.phrases, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestReadPassphraseFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		content string
		want    []string
		wantErr string
	}{
		{"one per line", "# current first\nnew secret\n\n  old  \r\n", []string{"new secret", "old"}, ""},
		{"only comments", "# nothing\n\n", nil, "holds no passphrase"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			os.WriteFile(path, []byte(tc.content), 0o600)
			got, err := ReadPassphraseFile(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ReadPassphraseFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestConcurrentDecode(t *testing.T) {
	d := newDecoder(t, Options{CacheSize: 2}, "secret")
	cookies := make([]string, 4)
	for i := range cookies {
		cookies[i] = sealed{pass: "secret", payload: fmt.Sprint("i=", i)}.encode(t)
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			for i := range 8 {
				s, err := d.Decode(cookies[(g+i)%4])
				if err == nil && s.Values["i"] != strconv.Itoa((g+i)%4) {
					err = fmt.Errorf("wrong session %v", s.Values)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

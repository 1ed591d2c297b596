package modcrypto

import (
	"errors"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary cookie values to Decode: it must never panic
// and must answer only a session, ErrInvalid or ErrExpired. Seeds include
// genuine cookies so the fuzzer also mutates the authenticated path.
func FuzzDecode(f *testing.F) {
	f.Add(sealed{pass: "secret", payload: "user=alice&expiry=4102444800000000"}.encode(f))
	f.Add(sealed{pass: "secret", payload: "a=%zz&&b==c&expiry=1"}.encode(f))
	f.Add(sealed{pass: "secret", payload: "x", badPad: true}.encode(f))
	f.Add("")
	f.Add("====")
	d, err := New([]string{"secret"}, Options{CacheSize: 8, Now: func() time.Time { return time.Unix(1e9, 0) }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value string) {
		s, err := d.Decode(value)
		if err != nil {
			if s != nil || !(errors.Is(err, ErrInvalid) || errors.Is(err, ErrExpired)) {
				t.Fatalf("Decode = %v, %v", s, err)
			}
			return
		}
		if s.Values == nil || len(s.Digest) != 32 {
			t.Fatalf("incomplete session %+v", s)
		}
		if _, ok := s.Values["expiry"]; ok {
			t.Fatal("expiry left among the values")
		}
	})
}

// FuzzPayload feeds arbitrary decrypted tables to the payload parser, as if
// a passphrase holder had written them.
func FuzzPayload(f *testing.F) {
	f.Add("user=alice&cart=1%2C2+3&expiry=1795305212562140")
	f.Add("=&==&%&%%&a=%00")
	f.Fuzz(func(t *testing.T, payload string) {
		s, err := parsePayload(payload)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parsePayload error %v is not ErrInvalid", err)
			}
			return
		}
		for k, v := range s.Values {
			if k == "" || v == "" || k == "expiry" {
				t.Fatalf("bad pair %q=%q kept", k, v)
			}
		}
	})
}

package htpasswd

import (
	"crypto/rand"
	"encoding/base64"
	"os/exec"
	"strings"
	"testing"
)

// Vectors from `openssl passwd -apr1 -salt SALT PASSWORD` (OpenSSL 3.0).
var apr1Vectors = []struct {
	name, password, salt, want string
}{
	{"simple", "password", "abcdefgh", "$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1"},
	{"digits salt", "secret", "12345678", "$apr1$12345678$0lqb/6VUFP8JY/s/jTrIk0"},
	{"empty password", "", "x", "$apr1$x$tMwYqBfQwi3FYAr0aJc8M/"},
	{"longer than 16", "0123456789abcdefghijklmnop", "saltsalt", "$apr1$saltsalt$UUR5fbcIqoyRDMO3eiNp90"},
	{"UTF-8 and slash salt", "pässwörd", "a/b.C9z1", "$apr1$a/b.C9z1$rE227aGtVJ6kPC2aH2Mmb/"},
	{"short salt", "alice-demo", "short", "$apr1$short$k7Mq0pJ.LtaJ6PV36zD2i1"},
	{"longer than 64", "a long password that is definitely longer than sixteen bytes and more than 64 too................", "abcdefgh", "$apr1$abcdefgh$qiaepKPlmzRMo4ympqI2Q0"},
}

func TestAPR1Vectors(t *testing.T) {
	for _, v := range apr1Vectors {
		t.Run(v.name, func(t *testing.T) {
			if got := apr1Crypt(v.password, v.salt); got != v.want {
				t.Fatalf("apr1Crypt(%q, %q) = %s, want %s", v.password, v.salt, got, v.want)
			}
			salt, ok := parseAPR1(v.want)
			if !ok || salt != v.salt {
				t.Fatalf("parseAPR1 = %q, %v", salt, ok)
			}
		})
	}
}

func TestAPR1SaltTruncatedToEight(t *testing.T) {
	if apr1Crypt("pw", "abcdefghXYZ") != apr1Crypt("pw", "abcdefgh") {
		t.Fatal("salt beyond 8 characters changed the hash")
	}
}

// TestAPR1MatchesOpenSSL compares random passwords and salts with the
// openssl binary, when it is installed.
func TestAPR1MatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	for i := range 20 {
		raw := make([]byte, 1+i*3)
		rand.Read(raw)
		pw := base64.RawStdEncoding.EncodeToString(raw)
		saltRaw := make([]byte, 6)
		rand.Read(saltRaw)
		salt := strings.NewReplacer("+", ".").Replace(base64.RawStdEncoding.EncodeToString(saltRaw))[:1+i%8]
		t.Run(pw, func(t *testing.T) {
			out, err := exec.Command(openssl, "passwd", "-apr1", "-salt", salt, pw).Output()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSpace(string(out))
			if got := apr1Crypt(pw, salt); got != want {
				t.Fatalf("apr1Crypt = %s, openssl = %s", got, want)
			}
		})
	}
}

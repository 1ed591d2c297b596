package htpasswd

import (
	"strings"
	"testing"
)

const (
	// `htpasswd -nbB alice pw`, `-nbm`, `-nbs` (Apache 2.4.71).
	apacheBcrypt = "$2y$05$U0ONTC7U/2Ym6aJclOkNQeMAMVof21dAY6afmiSKa66A2pYOUpuyu"
	apacheAPR1   = "$apr1$9RJIaeD9$pwPreZwaLseafmKYwe7eX/"
	apacheSHA    = "{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM="
)

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name    string
		data    string
		want    map[string]Scheme
		wantLns map[string]int
	}{
		{"empty file", "", map[string]Scheme{}, nil},
		{"comments and blanks", "# users\n\n   \n#x:y\n", map[string]Scheme{}, nil},
		{"three schemes", "a:" + apacheBcrypt + "\nb:" + apacheAPR1 + "\nc:" + apacheSHA + "\n",
			map[string]Scheme{"a": Bcrypt, "b": APR1, "c": SHA1}, map[string]int{"a": 1, "b": 2, "c": 3}},
		{"CRLF and no final newline", "a:" + apacheBcrypt + "\r\n\r\nb:" + apacheSHA,
			map[string]Scheme{"a": Bcrypt, "b": SHA1}, map[string]int{"a": 1, "b": 3}},
		{"2a and 2b", "a:$2a" + apacheBcrypt[3:] + "\nb:$2b" + apacheBcrypt[3:] + "\n",
			map[string]Scheme{"a": Bcrypt, "b": Bcrypt}, nil},
		{"unicode user", "jürgen:" + apacheSHA, map[string]Scheme{"jürgen": SHA1}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := Parse("users", []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]Scheme{}
			for _, e := range entries {
				got[e.User] = e.Scheme
				if want, ok := tc.wantLns[e.User]; ok && e.Line != want {
					t.Errorf("user %q on line %d, want %d", e.User, e.Line, want)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for u, s := range tc.want {
				if got[u] != s {
					t.Errorf("user %q: scheme %v, want %v", u, got[u], s)
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	const secretHash = "$5$rounds=5000$saltsalt$SECRETSECRETSECRET"
	cases := []struct {
		name string
		data string
		want string
	}{
		{"no colon", "alice\n", "users:1: no ':' between user name and hash"},
		{"empty user", ":" + apacheSHA, "users:1: empty user name"},
		{"empty hash", "\nalice:\n", "users:2: user \"alice\": empty hash"},
		{"duplicate", "a:" + apacheSHA + "\n# c\na:" + apacheAPR1, "users:3: user \"a\" appears again (first on line 1)"},
		{"sha-crypt", "a:" + secretHash, "users:1: user \"a\": unsupported hash scheme"},
		{"des crypt", "a:rl0uE6tkUdtZU", "users:1: user \"a\": unsupported hash (crypt(3) DES and plain-text"},
		{"plain text", "a:SECRETplaintext", "users:1: user \"a\": unsupported hash"},
		{"short bcrypt", "a:" + apacheBcrypt[:50], "malformed bcrypt hash"},
		{"bcrypt bad version", "a:$2x" + apacheBcrypt[3:], "malformed bcrypt hash"},
		{"bcrypt cost 99", "a:$2y$99" + apacheBcrypt[6:], "malformed bcrypt hash"},
		{"apr1 no salt", "a:$apr1$$pwPreZwaLseafmKYwe7eX/", "malformed $apr1$ hash"},
		{"apr1 long salt", "a:$apr1$123456789$pwPreZwaLseafmKYwe7eX/", "malformed $apr1$ hash"},
		{"apr1 spare bits", "a:$apr1$9RJIaeD9$pwPreZwaLseafmKYwe7eXz", "malformed $apr1$ hash"},
		{"sha bad base64", "a:{SHA}!!!!", "malformed {SHA} hash"},
		{"sha wrong length", "a:{SHA}AAAA", "malformed {SHA} hash"},
		{"control char in user", "a\x00b:" + apacheSHA, "contains ':' or a control character"},
		{"too long user", strings.Repeat("u", 256) + ":" + apacheSHA, "longer than 255"},
		{"every bad line reported", "x\ny\n", "users:2: no ':'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := Parse("users", []byte(tc.data))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", entries)
			}
			if entries != nil {
				t.Errorf("Parse returned entries along with an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not contain %q", msg, tc.want)
			}
			for _, secret := range []string{"SECRET", "rl0uE6", apacheBcrypt[10:30], "pwPreZwaLs", "AAAA"} {
				if strings.Contains(msg, secret) {
					t.Fatalf("error %q reveals part of a hash", msg)
				}
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse("big", make([]byte, MaxFileSize+1))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

package htpasswd

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary files to Parse: it must never panic, never
// return entries along with an error, and every entry must verify (or not)
// without panicking and be writable back as the same line.
func FuzzParse(f *testing.F) {
	f.Add([]byte("alice:" + apacheBcrypt + "\nbob:" + apacheAPR1 + "\r\n# c\ncarol:" + apacheSHA))
	f.Add([]byte("x\n:y\nz:\n"))
	f.Add([]byte("a:$apr1$$\na:{SHA}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := Parse("fuzz", data)
		if err != nil {
			if entries != nil {
				t.Fatal("entries returned with an error")
			}
			return
		}
		lines := bytes.Split(data, []byte("\n"))
		for _, e := range entries {
			if checkUser(e.User) != nil || e.Scheme == 0 {
				t.Fatalf("bad entry accepted: %+v", e)
			}
			line := strings.TrimSuffix(string(lines[e.Line-1]), "\r")
			if line != e.User+":"+e.hash {
				t.Fatalf("entry %q does not match line %d", e.User, e.Line)
			}
			if e.Scheme != Bcrypt { // bcrypt is too slow for fuzzing
				check(e, "password")
			}
		}
	})
}

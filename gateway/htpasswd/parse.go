package htpasswd

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Scheme is the hash format of one user's line.
type Scheme int

// The schemes this package verifies. Only Bcrypt is ever written.
const (
	Bcrypt Scheme = iota + 1 // $2y$, $2a$, $2b$: htpasswd -B
	APR1                     // $apr1$: htpasswd -m, the old default (legacy)
	SHA1                     // {SHA}: htpasswd -s, unsalted (legacy)
)

func (s Scheme) String() string {
	switch s {
	case Bcrypt:
		return "bcrypt"
	case APR1:
		return "apr1 (MD5)"
	case SHA1:
		return "{SHA} (unsalted SHA-1)"
	}
	return "unknown"
}

// Legacy reports whether s is weak enough that the user should be re-hashed
// with bcrypt.
func (s Scheme) Legacy() bool { return s == APR1 || s == SHA1 }

// Entry is one user of a parsed file.
type Entry struct {
	User   string
	Scheme Scheme
	Line   int // 1-based line number in the file

	hash string // never printed or logged
}

// MaxUserLen is the longest user name accepted (Apache's limit).
const MaxUserLen = 255

// MaxFileSize bounds what Parse and Open read: far above any real user list,
// small enough that a wrong path (a log, a device) fails fast.
const MaxFileSize = 16 << 20

// LineError is a problem on one line of a file. Its text names the file, the
// line and the problem, never the hash or any part of it.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("htpasswd %s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("htpasswd %s:%d: %s", e.File, e.Line, e.Msg)
}

// Parse reads an htpasswd file: one "user:hash" per line; blank lines and
// lines starting with '#' are ignored. name is used in errors. Every bad
// line is reported (errors.Join of *LineError), and a file with any bad
// line yields no entries: a half-read user list would lock out or let in
// the wrong people.
func Parse(name string, data []byte) ([]Entry, error) {
	if len(data) > MaxFileSize {
		return nil, &LineError{File: name, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}
	}
	var entries []Entry
	var errs []error
	seen := map[string]int{}
	lineNo := 0
	for len(data) > 0 {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte{'\n'})
		lineNo++
		line := strings.TrimSuffix(string(raw), "\r")
		if t := strings.TrimSpace(line); t == "" || t[0] == '#' {
			continue
		}
		fail := func(format string, args ...any) {
			errs = append(errs, &LineError{File: name, Line: lineNo, Msg: fmt.Sprintf(format, args...)})
		}
		user, hash, found := strings.Cut(line, ":")
		switch {
		case !found:
			fail("no ':' between user name and hash")
			continue
		case user == "":
			fail("empty user name")
			continue
		}
		if err := checkUser(user); err != nil {
			fail("%v", err)
			continue
		}
		if first, dup := seen[user]; dup {
			fail("user %q appears again (first on line %d)", user, first)
			continue
		}
		seen[user] = lineNo
		scheme, err := classify(hash)
		if err != nil {
			fail("user %q: %v", user, err)
			continue
		}
		entries = append(entries, Entry{User: user, Scheme: scheme, Line: lineNo, hash: hash})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return entries, nil
}

// checkUser enforces what can be written back safely: no ':' (the field
// separator), no control characters (line breaks, NUL), at most MaxUserLen
// bytes, valid UTF-8 is not required (Apache does not require it).
func checkUser(user string) error {
	if user == "" {
		return errors.New("empty user name")
	}
	if len(user) > MaxUserLen {
		return fmt.Errorf("user name longer than %d bytes", MaxUserLen)
	}
	for i := 0; i < len(user); i++ {
		if c := user[i]; c == ':' || c < 0x20 || c == 0x7f {
			return fmt.Errorf("user name %q contains ':' or a control character", user)
		}
	}
	return nil
}

// classify names the scheme of a stored hash after checking its shape. The
// error never quotes the hash.
func classify(h string) (Scheme, error) {
	switch {
	case h == "":
		return 0, errors.New("empty hash")
	case strings.HasPrefix(h, "$2"):
		if !bcryptShape(h) {
			return 0, errors.New("malformed bcrypt hash (want $2y$NN$ and 53 characters)")
		}
		return Bcrypt, nil
	case strings.HasPrefix(h, apr1Magic):
		if _, ok := parseAPR1(h); !ok {
			return 0, errors.New("malformed $apr1$ hash (want $apr1$salt$ and 22 characters)")
		}
		return APR1, nil
	case strings.HasPrefix(h, "{SHA}"):
		sum, err := base64.StdEncoding.Strict().DecodeString(h[len("{SHA}"):])
		if err != nil || len(sum) != 20 {
			return 0, errors.New("malformed {SHA} hash (want 28 base64 characters)")
		}
		return SHA1, nil
	case strings.HasPrefix(h, "$"):
		return 0, errors.New("unsupported hash scheme (only bcrypt, $apr1$ and {SHA} are read; re-hash with bcrypt: sessiond passwd)")
	}
	return 0, errors.New("unsupported hash (crypt(3) DES and plain-text passwords are not accepted; re-hash with bcrypt: sessiond passwd)")
}

// bcryptShape checks "$2a$", "$2b$" or "$2y$", a two-digit cost between 4
// and 31, "$", and 53 characters of bcrypt's base-64 alphabet.
func bcryptShape(h string) bool {
	if len(h) != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$' {
		return false
	}
	if v := h[2]; v != 'a' && v != 'b' && v != 'y' {
		return false
	}
	if h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' {
		return false
	}
	if cost := int(h[4]-'0')*10 + int(h[5]-'0'); cost < 4 || cost > 31 {
		return false
	}
	for i := 7; i < len(h); i++ {
		if strings.IndexByte(crypt64, h[i]) < 0 { // bcrypt uses the same 64 characters
			return false
		}
	}
	return true
}

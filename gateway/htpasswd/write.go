package htpasswd

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// MaxPasswordLen is bcrypt's limit: longer passwords would be silently
// truncated, so they are refused instead.
const MaxPasswordLen = 72

// writeMu serialises rewrites within this process. Rewrites from other
// processes (Apache's htpasswd tool) are not locked against, as Apache does
// not lock either; each rewrite is atomic, so the worst case is a lost
// update, never a torn file.
var writeMu sync.Mutex

// Hash returns a bcrypt hash of password at cost (0 means
// bcrypt.DefaultCost), as used in an htpasswd line.
func Hash(password string, cost int) (string, error) {
	if password == "" {
		return "", errors.New("htpasswd: empty password")
	}
	if len(password) > MaxPasswordLen {
		return "", fmt.Errorf("htpasswd: password longer than %d bytes (bcrypt would ignore the rest)", MaxPasswordLen)
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return "", fmt.Errorf("htpasswd: bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("htpasswd: %w", err)
	}
	return string(h), nil
}

// Add sets user's password in the file at path as a bcrypt hash at cost (0
// means bcrypt.DefaultCost), replacing the user's line if there is one and
// creating the file with mode 0600 if there is none. Other lines, comments
// included, are kept as they are. The file is replaced atomically and keeps
// its mode.
func Add(path, user, password string, cost int) error {
	if err := checkUser(user); err != nil {
		return fmt.Errorf("htpasswd: %w", err)
	}
	h, err := Hash(password, cost)
	if err != nil {
		return err
	}
	writeMu.Lock()
	defer writeMu.Unlock()
	return rewrite(path, true, func(lines []string, entries map[string]Entry) ([]string, error) {
		return setLine(lines, entries, user, h), nil
	})
}

// Remove deletes user's line from the file at path. Removing an absent user
// is an error, so a typo is noticed.
func Remove(path, user string) error {
	writeMu.Lock()
	defer writeMu.Unlock()
	return rewrite(path, false, func(lines []string, entries map[string]Entry) ([]string, error) {
		e, ok := entries[user]
		if !ok {
			return nil, fmt.Errorf("htpasswd: no user %q in %s", user, path)
		}
		return append(lines[:e.Line-1:e.Line-1], lines[e.Line:]...), nil
	})
}

// Upgrade re-hashes user with bcrypt if the file holds a legacy hash for
// them and password matches it; it does nothing if the user already has a
// bcrypt hash. It re-reads the file first and checks the password against
// what it finds, so it can only ever replace a hash with an equivalent one.
// If the file (or its directory) is not writable it returns the error and
// changes nothing; the login still succeeds and the warning stays.
func (f *File) Upgrade(user, password string) error {
	writeMu.Lock()
	err := rewrite(f.path, false, func(lines []string, entries map[string]Entry) ([]string, error) {
		e, ok := entries[user]
		if !ok {
			return nil, fmt.Errorf("htpasswd: no user %q in %s", user, f.path)
		}
		if !e.Scheme.Legacy() {
			return nil, errNothingToDo
		}
		if !check(e, password) {
			return nil, fmt.Errorf("htpasswd: password does not match the stored hash of %q; not upgraded", user)
		}
		h, err := Hash(password, f.table.Load().cost)
		if err != nil {
			return nil, err
		}
		return setLine(lines, entries, user, h), nil
	})
	writeMu.Unlock()
	if errors.Is(err, errNothingToDo) {
		return nil
	}
	if err != nil {
		return err
	}
	f.logger.Info("htpasswd: upgraded a legacy hash to bcrypt", "path", f.path, "user", user)
	return f.Reload()
}

var errNothingToDo = errors.New("nothing to do")

// setLine replaces user's line or appends one.
func setLine(lines []string, entries map[string]Entry, user, hash string) []string {
	line := user + ":" + hash
	if e, ok := entries[user]; ok {
		lines[e.Line-1] = line
		return lines
	}
	return append(lines, line)
}

// rewrite reads path (an absent file is empty if create is set), lets edit
// change its lines, and replaces the file atomically: write a temporary file
// in the same directory with the same mode, sync it, rename it over the
// original, sync the directory. The caller holds writeMu.
func rewrite(path string, create bool, edit func(lines []string, entries map[string]Entry) ([]string, error)) error {
	mode := fs.FileMode(0o600)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("htpasswd: %w", err)
		}
		mode = fi.Mode().Perm()
	case errors.Is(err, fs.ErrNotExist) && create:
		data = nil
	default:
		return fmt.Errorf("htpasswd: %w", err)
	}
	parsed, err := Parse(path, data)
	if err != nil {
		return fmt.Errorf("htpasswd: refusing to rewrite a file with bad lines: %w", err)
	}
	entries := make(map[string]Entry, len(parsed))
	for _, e := range parsed {
		entries[e.User] = e
	}
	var lines []string
	if len(data) > 0 {
		lines = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	}
	lines, err = edit(lines, entries)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	for _, l := range lines {
		out.WriteString(l)
		out.WriteByte('\n')
	}
	return writeAtomic(path, out.Bytes(), mode)
}

func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("htpasswd: cannot write next to %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after a successful rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("htpasswd: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("htpasswd: writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("htpasswd: writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("htpasswd: writing %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("htpasswd: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: makes the rename durable on most file systems
		d.Close()
	}
	return nil
}

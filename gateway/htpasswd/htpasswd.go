// Package htpasswd reads Apache htpasswd files for the gateway's form login
// (mod_auth_form's AuthUserFile) and writes them for `sessiond passwd`.
//
// It verifies bcrypt ($2y$, $2a$, $2b$), Apache MD5 ($apr1$) and {SHA}
// hashes. The last two are legacy: they load with a warning, and a login
// that proves the password can re-hash that user with bcrypt (Upgrade).
// Anything else — crypt(3) DES, plain text, SHA-crypt — is an error naming
// the line, never the hash.
//
// Verify costs about one bcrypt comparison whatever the outcome: an unknown
// user is compared against a dummy bcrypt hash of the file's usual cost, and
// a legacy hash is checked alongside one, so response time does not tell
// which user names exist or which hashes are weak.
//
// A *File re-reads its file when it changes (size, modification time or
// inode, checked at most once per CheckInterval), so `sessiond passwd` or
// Apache's htpasswd tool take effect without a restart. If the new content
// is invalid, the previous users stay in force and the error is logged.
// All methods of *File are safe for concurrent use.
package htpasswd

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// DefaultCheckInterval is how often a File looks for changes by default.
const DefaultCheckInterval = time.Second

// File is an htpasswd file loaded for verification.
type File struct {
	path     string
	interval time.Duration
	logger   *slog.Logger
	now      func() time.Time

	table     atomic.Pointer[table]
	lastCheck atomic.Int64 // unix nanoseconds of the last stat
	reloadMu  sync.Mutex   // one reload at a time
	onChange  atomic.Pointer[func(removed []string)]
}

// table is one immutable load of the file.
type table struct {
	users    map[string]Entry
	info     os.FileInfo
	dummy    []byte // bcrypt hash of a random password, at the file's usual cost
	cost     int    // the file's usual bcrypt cost (for upgrades)
	warnings []string
}

// Config says which file to serve and how.
type Config struct {
	// Path is the htpasswd file. Required.
	Path string
	// Logger receives reload errors and legacy-hash warnings (nothing
	// secret is ever logged). Default: slog.Default().
	Logger *slog.Logger
	// CheckInterval is how often Verify looks at the file for changes.
	// Zero means DefaultCheckInterval; negative checks on every call.
	CheckInterval time.Duration
}

// Open loads the file at cfg.Path. The error names every bad line.
func Open(cfg Config) (*File, error) {
	if cfg.Path == "" {
		return nil, errors.New("htpasswd: Config.Path is empty")
	}
	f := &File{path: cfg.Path, interval: DefaultCheckInterval, logger: cfg.Logger, now: time.Now}
	if f.logger == nil {
		f.logger = slog.Default()
	}
	switch {
	case cfg.CheckInterval < 0:
		f.interval = 0
	case cfg.CheckInterval > 0:
		f.interval = cfg.CheckInterval
	}
	t, err := f.load()
	if err != nil {
		return nil, err
	}
	f.table.Store(t)
	f.lastCheck.Store(f.now().UnixNano())
	for _, w := range t.warnings {
		f.logger.Warn("htpasswd: legacy password hash", "detail", w)
	}
	return f, nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Warnings lists the legacy hashes of the current content, one sentence
// each, naming user and line.
func (f *File) Warnings() []string { return append([]string(nil), f.table.Load().warnings...) }

// Users returns the number of users loaded.
func (f *File) Users() int { return len(f.table.Load().users) }

func (f *File) load() (*table, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	if info.Size() > MaxFileSize {
		return nil, &LineError{File: f.path, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}
	}
	data := make([]byte, info.Size())
	n, err := fh.ReadAt(data, 0)
	if err != nil && n != len(data) {
		return nil, fmt.Errorf("htpasswd: reading %s: %w", f.path, err)
	}
	entries, err := Parse(f.path, data[:n])
	if err != nil {
		return nil, err
	}
	t := &table{users: make(map[string]Entry, len(entries)), info: info}
	costs := map[int]int{}
	for _, e := range entries {
		t.users[e.User] = e
		switch e.Scheme {
		case Bcrypt:
			if c, err := bcrypt.Cost([]byte(e.hash)); err == nil {
				costs[c]++
			}
		case APR1, SHA1:
			t.warnings = append(t.warnings, fmt.Sprintf(
				"%s:%d: user %q has a %s hash; re-hash it with bcrypt (sessiond passwd), or let the next login upgrade it",
				f.path, e.Line, e.User, e.Scheme))
		}
	}
	t.cost = bcrypt.DefaultCost
	for c, n := range costs {
		if n > costs[t.cost] || n == costs[t.cost] && c > t.cost {
			t.cost = c
		}
	}
	if prev := f.table.Load(); prev != nil && prev.cost == t.cost {
		t.dummy = prev.dummy
	} else {
		t.dummy, err = dummyHash(t.cost)
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

func dummyHash(cost int) ([]byte, error) {
	pw := make([]byte, 32)
	_, _ = rand.Read(pw)
	h, err := bcrypt.GenerateFromPassword([]byte(base64.RawStdEncoding.EncodeToString(pw)), cost)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: making the dummy hash: %w", err)
	}
	return h, nil
}

// Reload re-reads the file now if it changed since the last load. On error
// the previous users stay in force.
func (f *File) Reload() error {
	f.reloadMu.Lock()
	defer f.reloadMu.Unlock()
	f.lastCheck.Store(f.now().UnixNano())
	cur := f.table.Load()
	info, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("htpasswd: %w (keeping the %d users loaded before)", err, len(cur.users))
	}
	if sameVersion(cur.info, info) {
		return nil
	}
	t, err := f.load()
	if err != nil {
		return fmt.Errorf("%w (keeping the %d users loaded before)", err, len(cur.users))
	}
	f.table.Store(t)
	f.logger.Info("htpasswd: reloaded", "path", f.path, "users", len(t.users))
	for _, w := range t.warnings {
		f.logger.Warn("htpasswd: legacy password hash", "detail", w)
	}
	if fn := f.onChange.Load(); fn != nil {
		var removed []string
		for u := range cur.users {
			if _, ok := t.users[u]; !ok {
				removed = append(removed, u)
			}
		}
		if len(removed) > 0 {
			slices.Sort(removed)
			(*fn)(removed)
		}
	}
	return nil
}

// OnChange registers fn, called after each reload that removed users,
// with their names (sorted). It replaces any earlier fn; nil removes it.
// fn runs on the goroutine that noticed the change and must not call
// Reload.
func (f *File) OnChange(fn func(removed []string)) {
	if fn == nil {
		f.onChange.Store(nil)
		return
	}
	f.onChange.Store(&fn)
}

// Has reports whether user is in the file (looking for changes first, as
// Verify does). A user removed from the file is gone once it reloads.
func (f *File) Has(user string) bool {
	f.maybeReload()
	_, ok := f.table.Load().users[user]
	return ok
}

func sameVersion(a, b os.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}

// maybeReload reloads if CheckInterval has passed, without making callers
// wait for another caller's reload.
func (f *File) maybeReload() {
	last := f.lastCheck.Load()
	now := f.now().UnixNano()
	if now-last < int64(f.interval) && f.interval > 0 {
		return
	}
	if !f.lastCheck.CompareAndSwap(last, now) {
		return // another caller is checking
	}
	if err := f.Reload(); err != nil {
		f.logger.Error("htpasswd: reload failed", "err", err)
	}
}

// Verify reports whether password is user's password. legacy is true when
// it is, but the stored hash is a legacy scheme: call Upgrade.
//
// Verify takes about the time of one bcrypt comparison at the file's usual
// cost for unknown users, wrong passwords and legacy hashes alike.
func (f *File) Verify(user, password string) (ok, legacy bool) {
	f.maybeReload()
	t := f.table.Load()
	e, found := t.users[user]
	if !found || e.Scheme != Bcrypt {
		// Unknown user or legacy hash: spend the same bcrypt time.
		_ = bcrypt.CompareHashAndPassword(t.dummy, []byte(password))
	}
	if !found {
		return false, false
	}
	ok = check(e, password)
	return ok, ok && e.Scheme.Legacy()
}

// check verifies password against one entry, in constant time for the
// comparison itself.
func check(e Entry, password string) bool {
	switch e.Scheme {
	case Bcrypt:
		return bcrypt.CompareHashAndPassword([]byte(e.hash), []byte(password)) == nil
	case APR1:
		salt, ok := parseAPR1(e.hash)
		if !ok {
			return false
		}
		return subtle.ConstantTimeCompare([]byte(apr1Crypt(password, salt)), []byte(e.hash)) == 1
	case SHA1:
		sum := sha1.Sum([]byte(password))
		want := "{SHA}" + base64.StdEncoding.EncodeToString(sum[:])
		return subtle.ConstantTimeCompare([]byte(want), []byte(e.hash)) == 1
	}
	return false
}

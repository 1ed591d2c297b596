package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/sessiond/sessiond/session"
)

// readCache keeps recently loaded records in memory and serves one only
// while the database is exactly as it was when the record was read.
//
// "Exactly as it was" is judged by the WAL-index header in the -shm file
// (https://www.sqlite.org/walformat.html, "The WAL-Index Header"): every
// connection of every process that commits a transaction to a WAL
// database rewrites that header (its change counter, its last valid
// frame and checksums) before the commit returns, and SQLite's own
// readers take their snapshot from it. So a cached record is served only
// if the header read now equals the header read before the record was
// fetched: any commit since — a revocation, an update, a delete, GC, by
// this process or another — makes every entry stale at once, and the
// next load reads the database. Reading the header is one pread(2) of 96
// bytes, against a SQL query for a load.
//
// The header is stored twice; a writer writes the second copy, then the
// first. Two copies that differ mean a writer is at work: the cache is
// then bypassed.
type readCache struct {
	w   *ChangeWatcher
	max int

	mu sync.RWMutex
	m  map[session.Hash]cachedRecord
}

type walHeader [48]byte

// changes is the header's iChange: a counter every commit increments (in
// native byte order at offset 8; https://www.sqlite.org/walformat.html).
func (h walHeader) changes() uint32 { return binary.NativeEndian.Uint32(h[8:12]) }

type cachedRecord struct {
	rec *session.Record // read-only (the Store contract), so shared
	at  walHeader
}

// defaultCacheSize bounds the entries of the read cache (about 1 KiB each).
const defaultCacheSize = 10_000

func openReadCache(dbPath string, max int) (*readCache, error) {
	w, err := WatchChanges(dbPath)
	if err != nil {
		return nil, err
	}
	return &readCache{w: w, max: max, m: make(map[session.Hash]cachedRecord)}, nil
}

func (c *readCache) header() (walHeader, bool) { return c.w.header() }

// get returns h's record if it was read at header at.
func (c *readCache) get(h session.Hash, at walHeader) *session.Record {
	c.mu.RLock()
	e, ok := c.m[h]
	c.mu.RUnlock()
	if ok && e.at == at {
		return e.rec
	}
	return nil
}

func (c *readCache) put(h session.Hash, rec *session.Record, at walHeader) {
	c.mu.Lock()
	if _, ok := c.m[h]; !ok && len(c.m) >= c.max {
		for k, e := range c.m { // evict stale entries first, else any one
			if e.at != at {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			for k := range c.m {
				delete(c.m, k)
				break
			}
		}
	}
	c.m[h] = cachedRecord{rec: rec, at: at}
	c.mu.Unlock()
}

func (c *readCache) close() error { return c.w.Close() }

// ChangeWatcher tells whether anything was committed to a SQLite
// database in WAL mode since an earlier look, by any connection of any
// process, from the WAL-index header (see readCache). It lets a reader
// cache answers read from the database and drop them at the first commit.
// Safe for concurrent use.
type ChangeWatcher struct {
	path string
	f    atomic.Pointer[os.File]
	mu   sync.Mutex // serialises reopening
}

// WatchChanges watches the database at dbPath, in WAL mode; the database
// file must exist. Its -shm file exists once a connection has used the
// database; until then Version reports that it cannot tell. dbPath's
// symlinks are resolved once, here, as SQLite resolves them: the -shm
// watched is the one beside the real file, never a stray one beside the
// link.
func WatchChanges(dbPath string) (*ChangeWatcher, error) {
	real, err := filepath.EvalSymlinks(dbPath)
	if err != nil {
		return nil, fmt.Errorf("sqlite: watch changes: %w", err)
	}
	w := &ChangeWatcher{path: real + "-shm"}
	f, err := os.Open(w.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sqlite: watch changes: %w", err)
	}
	if err == nil {
		w.f.Store(f)
	}
	return w, nil
}

// header reads the WAL-index header; ok is false while a writer is
// rewriting it, or when the -shm file this watcher reads is no longer
// the database's (SQLite deletes it when the last connection of every
// process closes; a new one is made by the next): the watcher then opens
// the current one, and nothing may be served from a cache meanwhile.
func (w *ChangeWatcher) header() (h walHeader, ok bool) {
	f := w.f.Load()
	if f == nil {
		w.reopen(nil)
		return h, false
	}
	var b [2 * len(h)]byte
	if n, err := f.ReadAt(b[:], 0); n != len(b) || err != nil {
		return h, false
	}
	if [len(h)]byte(b[:len(h)]) != [len(h)]byte(b[len(h):]) || b[12] == 0 { // copies differ, or isInit unset
		return h, false
	}
	if unlinked(f) {
		w.reopen(f)
		return h, false
	}
	return walHeader(b[:len(h)]), true
}

// reopen replaces old (if it is still the current file) with the file now
// at the path, or with nothing if there is none.
func (w *ChangeWatcher) reopen(old *os.File) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f.Load() != old {
		return // another goroutine did it
	}
	f, err := os.Open(w.path)
	if err != nil {
		f = nil
	}
	w.f.Store(f)
	if old != nil {
		old.Close()
	}
}

// Version returns a value that changes with every commit to the database
// (a 64-bit FNV-1a hash of the WAL-index header). ok is false while it
// cannot tell: then nothing may be served from a cache. Read the version
// before reading the database, and serve what was read only while
// Version returns the same value.
func (w *ChangeWatcher) Version() (v uint64, ok bool) {
	h, ok := w.header()
	if !ok {
		return 0, false
	}
	v = 14695981039346656037
	for _, c := range h {
		v ^= uint64(c)
		v *= 1099511628211
	}
	return v, true
}

// Close closes the watcher's file.
func (w *ChangeWatcher) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f := w.f.Swap(nil); f != nil {
		return f.Close()
	}
	return nil
}

package sqlite

import (
	"os"
	"sync"

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
	shm *os.File
	max int

	mu sync.RWMutex
	m  map[session.Hash]cachedRecord
}

type walHeader [48]byte

type cachedRecord struct {
	rec *session.Record // read-only (the Store contract), so shared
	at  walHeader
}

// defaultCacheSize bounds the entries of the read cache (about 1 KiB each).
const defaultCacheSize = 10_000

func openReadCache(shmPath string, max int) (*readCache, error) {
	f, err := os.Open(shmPath)
	if err != nil {
		return nil, err
	}
	return &readCache{shm: f, max: max, m: make(map[session.Hash]cachedRecord)}, nil
}

// header reads the WAL-index header; ok is false while a writer is
// rewriting it (or the file is not a WAL index).
func (c *readCache) header() (h walHeader, ok bool) {
	var b [2 * len(h)]byte
	if n, err := c.shm.ReadAt(b[:], 0); n != len(b) || err != nil {
		return h, false
	}
	if [len(h)]byte(b[:len(h)]) != [len(h)]byte(b[len(h):]) || b[12] == 0 { // copies differ, or isInit unset
		return h, false
	}
	return walHeader(b[:len(h)]), true
}

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

func (c *readCache) close() error { return c.shm.Close() }

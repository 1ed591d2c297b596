package redis

import (
	"sync"

	"github.com/sessiond/sessiond/session"
)

// refHints remembers which record (ref) an ID hash named when it was last
// loaded, so that the next load of that hash reads the record's hash
// directly — a plain HGETALL, no script and no ID-key lookup — instead of
// running the load script (single node) or a GET and then an HGETALL in
// two rounds (Cluster).
//
// A hint is never trusted: the record read through it is used only if it
// still lists the hash in its i field, which every write keeps equal to
// the set of ID keys naming it (single node: in the same script; Cluster:
// a record lists only IDs it has claimed). A record deleted, rotated away
// from the hash or replaced since fails that check, the hint is dropped
// and the load takes the ID key's word, as without hints. Safe for
// concurrent use.
type refHints struct {
	mu  sync.RWMutex
	m   map[session.Hash]string
	max int
}

// maxRefHints bounds the hints kept (about 150 bytes each).
const maxRefHints = 10_000

func newRefHints() *refHints {
	return &refHints{m: make(map[session.Hash]string), max: maxRefHints}
}

func (c *refHints) get(h session.Hash) (string, bool) {
	c.mu.RLock()
	ref, ok := c.m[h]
	c.mu.RUnlock()
	return ref, ok
}

func (c *refHints) put(h session.Hash, ref string) {
	if cur, ok := c.get(h); ok && cur == ref {
		return // the common case, every load of a known session: no write lock
	}
	c.mu.Lock()
	if _, ok := c.m[h]; !ok && len(c.m) >= c.max {
		for k := range c.m { // any one: map order is random enough
			delete(c.m, k)
			break
		}
	}
	c.m[h] = ref
	c.mu.Unlock()
}

func (c *refHints) drop(h session.Hash) {
	c.mu.Lock()
	delete(c.m, h)
	c.mu.Unlock()
}

// lists reports whether a record's stored hash (HGETALL name/value pairs)
// lists h among the IDs naming it (its i field: 64 hex digits each).
func lists(pairs []string, h session.Hash) bool {
	ids, ok := field(pairs, "i")
	if !ok {
		return false
	}
	hex := h.Hex()
	for j := 0; j+64 <= len(ids); j += 64 {
		if ids[j:j+64] == hex {
			return true
		}
	}
	return false
}

package modcrypto

import (
	"container/list"
	"crypto/cipher"
	"sync"
)

// cacheKey names one derived key: which passphrase, which salt.
type cacheKey struct {
	phrase int
	salt   [saltSize]byte
}

// lru is a fixed-size least-recently-used cache of AES blocks (which are
// read-only after creation and safe to share between goroutines). It is
// safe for concurrent use.
type lru struct {
	mu    sync.Mutex
	size  int
	items map[cacheKey]*list.Element
	order *list.List // front: most recent; values are *lruEntry
}

type lruEntry struct {
	key   cacheKey
	block cipher.Block
}

func newLRU(size int) *lru {
	return &lru{size: size, items: make(map[cacheKey]*list.Element, size), order: list.New()}
}

func (c *lru) get(k cacheKey) (cipher.Block, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).block, true
}

func (c *lru) add(k cacheKey, b cipher.Block) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.order.MoveToFront(e)
		return
	}
	if c.order.Len() >= c.size {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.items, old.Value.(*lruEntry).key)
	}
	c.items[k] = c.order.PushFront(&lruEntry{key: k, block: b})
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

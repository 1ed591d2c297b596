package remember

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryStore keeps keys in process memory: for tests, and for a single
// process that accepts losing auto-login keys on restart. The zero value is
// ready to use; it is safe for concurrent use.
type MemoryStore struct {
	mu    sync.Mutex
	keys  map[string]Record
	users map[owner]map[string]struct{} // realm and user -> selectors
}

// owner is the realm and user a key belongs to.
type owner struct{ realm, user string }

func ownerOf(r Record) owner { return owner{r.Realm, r.User} }

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

var _ Store = (*MemoryStore)(nil)

func (s *MemoryStore) insert(rec Record) {
	if s.keys == nil {
		s.keys = map[string]Record{}
		s.users = map[owner]map[string]struct{}{}
	}
	s.keys[rec.Selector] = rec
	set := s.users[ownerOf(rec)]
	if set == nil {
		set = map[string]struct{}{}
		s.users[ownerOf(rec)] = set
	}
	set[rec.Selector] = struct{}{}
}

func (s *MemoryStore) remove(sel string) {
	rec, ok := s.keys[sel]
	if !ok {
		return
	}
	delete(s.keys, sel)
	if set := s.users[ownerOf(rec)]; set != nil {
		delete(set, sel)
		if len(set) == 0 {
			delete(s.users, ownerOf(rec))
		}
	}
}

// Create implements Store.
func (s *MemoryStore) Create(_ context.Context, rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[rec.Selector]; ok {
		return ErrCollision
	}
	s.insert(rec)
	return nil
}

// Lookup implements Store.
func (s *MemoryStore) Lookup(_ context.Context, selector string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.keys[selector]
	if !ok {
		return Record{}, ErrNotFound
	}
	return rec, nil
}

// Consume implements Store.
func (s *MemoryStore) Consume(_ context.Context, selector string, usedAt time.Time, next Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.keys[selector]
	switch {
	case !ok:
		return ErrNotFound
	case old.Used():
		return ErrAlreadyUsed
	case ownerOf(next) != ownerOf(old):
		return fmt.Errorf("remember: consume: the next key belongs to another user or realm")
	}
	if _, taken := s.keys[next.Selector]; taken {
		return ErrCollision
	}
	old.UsedAt = usedAt
	s.keys[selector] = old
	s.insert(next)
	return nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, selector string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(selector)
	return nil
}

// DeleteUser implements Store.
func (s *MemoryStore) DeleteUser(_ context.Context, realm, user string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.users[owner{realm, user}]
	n := len(set)
	for sel := range set {
		s.remove(sel)
	}
	return n, nil
}

// GC implements Store.
func (s *MemoryStore) GC(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sel, rec := range s.keys {
		if rec.Expires.Before(now) {
			s.remove(sel)
			n++
		}
	}
	return n, nil
}

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
	users map[string]map[string]struct{} // user -> selectors
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

var _ Store = (*MemoryStore)(nil)

func (s *MemoryStore) insert(rec Record) {
	if s.keys == nil {
		s.keys = map[string]Record{}
		s.users = map[string]map[string]struct{}{}
	}
	s.keys[rec.Selector] = rec
	set := s.users[rec.User]
	if set == nil {
		set = map[string]struct{}{}
		s.users[rec.User] = set
	}
	set[rec.Selector] = struct{}{}
}

func (s *MemoryStore) remove(sel string) {
	rec, ok := s.keys[sel]
	if !ok {
		return
	}
	delete(s.keys, sel)
	if set := s.users[rec.User]; set != nil {
		delete(set, sel)
		if len(set) == 0 {
			delete(s.users, rec.User)
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
	case next.User != old.User:
		return fmt.Errorf("remember: consume: the next key belongs to another user")
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
func (s *MemoryStore) DeleteUser(_ context.Context, user string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.users[user]
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

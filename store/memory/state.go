package memory

import (
	"context"
	"crypto/rand"
	"sync"
	"time"

	"github.com/sessiond/sessiond/remember"
)

// The store's companions, kept in this process beside its sessions:
// one-time claims, named secrets, remember-me keys and certificates. Like
// the sessions, they are gone at the next start.

// maxClaims bounds the claims kept; past it, ended ones are dropped first.
const maxClaims = 100_000

type state struct {
	mu       sync.Mutex
	claims   map[string]time.Time // key -> until
	secrets  map[string][]byte
	remember *remember.MemoryStore
	certs    *CertStore
}

// Claim records key until until and reports whether this is its first
// claim: false while an earlier claim of key has not ended. Of concurrent
// claims of one key exactly one is first.
func (s *Store) Claim(_ context.Context, key string, until time.Time) (bool, error) {
	st := &s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	now := time.Now()
	if end, ok := st.claims[key]; ok && now.Before(end) {
		return false, nil
	}
	if st.claims == nil {
		st.claims = map[string]time.Time{}
	}
	if len(st.claims) >= maxClaims {
		for k, end := range st.claims {
			if !now.Before(end) {
				delete(st.claims, k)
			}
		}
	}
	st.claims[key] = until
	return true, nil
}

// ClaimedUntil returns when the claim of key ends; the zero time when key
// is not claimed.
func (s *Store) ClaimedUntil(_ context.Context, key string) (time.Time, error) {
	st := &s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	if end, ok := st.claims[key]; ok && time.Now().Before(end) {
		return end, nil
	}
	return time.Time{}, nil
}

// Secret returns the random 32-byte secret named label, made on first use.
func (s *Store) Secret(_ context.Context, label string) ([]byte, error) {
	st := &s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	if b, ok := st.secrets[label]; ok {
		return append([]byte(nil), b...), nil
	}
	if st.secrets == nil {
		st.secrets = map[string][]byte{}
	}
	b := make([]byte, 32)
	rand.Read(b)
	st.secrets[label] = b
	return append([]byte(nil), b...), nil
}

// Remember returns the store's remember-me keys (the same store at every
// call).
func (s *Store) Remember(context.Context) (remember.Store, error) {
	st := &s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.remember == nil {
		st.remember = remember.NewMemoryStore()
	}
	return st.remember, nil
}

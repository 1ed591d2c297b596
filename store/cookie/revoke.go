package cookie

import (
	"context"
	"sync"
	"time"
)

// Revocations is the server-side state that lets cookies be revoked before
// they expire. Implementations must be safe for concurrent use, and should
// answer quickly: Decode consults them on every request (one lookup for
// the Ref, one more when the session has a user). This package has two: a
// memory one (a single process) and one over database/sql (SQLite, shared
// by every process that opens the database).
type Revocations interface {
	// RevokedBefore returns the time before which every cookie of user is
	// revoked, or the zero time if none was set.
	RevokedBefore(ctx context.Context, user string) (time.Time, error)
	// SetRevokedBefore revokes every cookie of user issued before t. The
	// stored time only moves forward: an earlier t than the stored one
	// changes nothing, so a late or repeated call cannot revive sessions.
	SetRevokedBefore(ctx context.Context, user string, t time.Time) error
	// RevokeRef revokes every cookie of the session ref, at least until
	// until; the zero until means forever. A later until extends an existing
	// revocation, an earlier one does not shorten it.
	RevokeRef(ctx context.Context, ref string, until time.Time) error
	// RefRevoked reports whether ref is revoked.
	RefRevoked(ctx context.Context, ref string) (bool, error)
}

// MemoryRevocations keeps revocations in process memory: right for a single
// process and for tests, lost on restart, and not shared with other
// gateways (use SQLRevocations for that). Call GC now and then to forget
// revocations that ended. Safe for concurrent use.
type MemoryRevocations struct {
	mu    sync.RWMutex
	users map[string]time.Time
	refs  map[string]time.Time // zero: forever
}

var _ Revocations = (*MemoryRevocations)(nil)

// NewMemoryRevocations returns an empty MemoryRevocations.
func NewMemoryRevocations() *MemoryRevocations {
	return &MemoryRevocations{users: map[string]time.Time{}, refs: map[string]time.Time{}}
}

// RevokedBefore implements Revocations.
func (m *MemoryRevocations) RevokedBefore(ctx context.Context, user string) (time.Time, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.users[user], nil
}

// SetRevokedBefore implements Revocations.
func (m *MemoryRevocations) SetRevokedBefore(ctx context.Context, user string, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.After(m.users[user]) {
		m.users[user] = t
	}
	return nil
}

// RevokeRef implements Revocations.
func (m *MemoryRevocations) RevokeRef(ctx context.Context, ref string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.refs[ref]
	switch {
	case !ok, until.IsZero(), !old.IsZero() && until.After(old):
		m.refs[ref] = until
	}
	return nil
}

// RefRevoked implements Revocations.
func (m *MemoryRevocations) RefRevoked(ctx context.Context, ref string) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.refs[ref]
	return ok, nil
}

// GC forgets Ref revocations that ended before now (their cookies have
// expired anyway) and reports how many. Per-user times are kept: there is
// one per user at most.
func (m *MemoryRevocations) GC(ctx context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for ref, until := range m.refs {
		if !until.IsZero() && until.Before(now) {
			delete(m.refs, ref)
			n++
		}
	}
	return n, nil
}

package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiond/sessiond/session"
)

var _ session.Locker = (*Store)(nil)

// heldLocks tracks the connections that hold advisory locks, so that
// Close can end them even if a holder never unlocks (pgxpool's Close
// would otherwise wait for them forever).
type heldLocks struct {
	mu     sync.Mutex
	conns  map[*pgxpool.Conn]struct{}
	closed bool
}

func (h *heldLocks) add(c *pgxpool.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	if h.conns == nil {
		h.conns = map[*pgxpool.Conn]struct{}{}
	}
	h.conns[c] = struct{}{}
	return true
}

// remove reports whether c was still held (not taken over by closeAll).
func (h *heldLocks) remove(c *pgxpool.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.conns[c]
	delete(h.conns, c)
	return ok
}

func (h *heldLocks) closeAll(ctx context.Context) {
	h.mu.Lock()
	conns := h.conns
	h.conns, h.closed = nil, true
	h.mu.Unlock()
	for c := range conns {
		c.Conn().Close(ctx) // the server releases the session's locks
		c.Release()
	}
}

// Lock implements session.Locker with a PostgreSQL session-level advisory
// lock (pg_advisory_lock), so the lock holds across every process using
// the same database, schema and table prefix. Getting a connection is
// bounded by Config.Timeout (ErrUnavailable past it); the wait for the
// lock itself lasts until ctx ends (an error wrapping ctx.Err()).
//
// Each held or awaited lock occupies one connection of a separate pool
// (Config.LockConns), so waiting lockers never starve the operations the
// lock holder needs to finish. If the wait is interrupted or unlocking
// fails, that connection is closed rather than returned to the pool: the
// server releases a closed session's locks, so a lock never leaks to a
// later user of the connection. Close ends locks still held. Session-level
// locks need a direct connection (or session pooling), not a
// transaction-pooling proxy.
//
// Refs map to 64-bit keys; two refs sharing a key (probability about
// n²/2⁶⁵) only serialise more than needed. unlock is idempotent and safe
// to call from any goroutine.
func (s *Store) Lock(ctx context.Context, ref string) (unlock func(), err error) {
	key := advisoryKey("record", s.lockSalt, ref)
	actx, cancel := s.op(ctx)
	c, err := s.locks.Acquire(actx)
	cancel()
	if err != nil {
		return nil, s.lockFail(ctx, err)
	}
	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		// The lock may have been granted just as the wait was cut short:
		// only closing the session is sure to release it.
		c.Conn().Close(context.Background())
		c.Release()
		return nil, s.lockFail(ctx, err)
	}
	if !s.held.add(c) { // Close ran meanwhile
		c.Conn().Close(context.Background())
		c.Release()
		return nil, fmt.Errorf("postgres: lock: %w: store closed", session.ErrUnavailable)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if !s.held.remove(c) {
				return // Close already ended it
			}
			ctx, cancel := s.op(context.Background())
			defer cancel()
			var released bool
			if err := c.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, key).Scan(&released); err != nil || !released {
				c.Conn().Close(ctx)
			}
			c.Release()
		})
	}, nil
}

// lockFail reports a Lock that gave up: the caller's context ending while
// waiting is reported as such (the lock is busy, not the store down).
func (s *Store) lockFail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("postgres: lock: waiting for the record lock: %w", ctx.Err())
	}
	return s.fail("lock", err)
}

// Package memory is an in-process session.Store: sharded maps guarded by
// read/write locks, with a background sweeper for expired records. It is
// the fastest store and keeps nothing across restarts; use it for tests,
// single-process apps, and as the reference implementation of the Store
// contract.
package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/sessiond/sessiond/internal/tick"
	"github.com/sessiond/sessiond/session"
)

const shardCount = 64

// Config configures a Store. The zero value is ready to use.
type Config struct {
	// SweepInterval is how often expired records are deleted; 0 means one
	// minute, a negative value disables the sweeper (call GC yourself).
	SweepInterval time.Duration
}

// Store is an in-memory session.Store. Records are immutable once stored:
// Load hands out the stored pointer without copying (callers must not
// modify it, as the Store contract says), and every Update installs a new
// record.
type Store struct {
	seed   maphash.Seed
	shards [shardCount]shard
	stop   context.CancelFunc // ends the sweeper
	done   chan struct{}
	state  state // claims, secrets and remember-me keys (state.go)
}

// One shard holds three indexes, each entry placed by the hash of its own
// key: records by ref, refs by ID hash, refs by user. Operations that span
// shards lock them in ascending order, so they cannot deadlock.
type shard struct {
	mu    sync.RWMutex
	recs  map[string]*session.Record
	ids   map[session.Hash]string
	users map[string]map[string]struct{}
}

// New returns a store and starts its sweeper (stop it with Close).
func New(cfg Config) *Store {
	ctx, stop := context.WithCancel(context.Background())
	s := &Store{seed: maphash.MakeSeed(), stop: stop, done: make(chan struct{})}
	for i := range s.shards {
		s.shards[i] = shard{
			recs:  map[string]*session.Record{},
			ids:   map[session.Hash]string{},
			users: map[string]map[string]struct{}{},
		}
	}
	interval := cfg.SweepInterval
	if interval == 0 {
		interval = time.Minute
	}
	if interval < 0 {
		close(s.done)
		return s
	}
	go func() {
		defer close(s.done)
		tick.Every(ctx, interval, func(now time.Time) { _, _ = s.GC(ctx, now) })
	}()
	return s
}

// Close stops the sweeper. The store stays usable.
func (s *Store) Close() error {
	s.stop()
	<-s.done
	return nil
}

func (s *Store) refShard(ref string) int { return int(maphash.String(s.seed, ref) % shardCount) }
func (s *Store) userShard(u string) int  { return int(maphash.String(s.seed, "u\x00"+u) % shardCount) }
func idShard(h session.Hash) int         { return int(h[0]) % shardCount }

// lock locks the given shards (deduplicated, in order) and returns the unlock.
func (s *Store) lock(idx []int) func() {
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s.shards[i].mu.Lock()
	}
	return func() {
		for _, i := range slices.Backward(idx) {
			s.shards[i].mu.Unlock()
		}
	}
}

func (s *Store) shardsFor(recs ...*session.Record) []int {
	var idx []int
	for _, r := range recs {
		if r == nil {
			continue
		}
		idx = append(idx, s.refShard(r.Ref))
		for _, h := range r.Hashes() {
			idx = append(idx, idShard(h))
		}
		if r.User != "" {
			idx = append(idx, s.userShard(r.User))
		}
	}
	return idx
}

// Load implements session.Store. It does not allocate.
func (s *Store) Load(ctx context.Context, h session.Hash) (*session.Record, error) {
	is := &s.shards[idShard(h)]
	is.mu.RLock()
	ref, ok := is.ids[h]
	is.mu.RUnlock()
	if !ok {
		return nil, session.ErrNotFound
	}
	rs := &s.shards[s.refShard(ref)]
	rs.mu.RLock()
	r, ok := rs.recs[ref]
	rs.mu.RUnlock()
	if !ok {
		return nil, session.ErrNotFound
	}
	return r, nil
}

// Create implements session.Store.
func (s *Store) Create(ctx context.Context, rec *session.Record) error {
	if rec.Ref == "" {
		return fmt.Errorf("memory: record without ref")
	}
	unlock := s.lock(s.shardsFor(rec))
	defer unlock()
	if _, ok := s.shards[s.refShard(rec.Ref)].recs[rec.Ref]; ok {
		return session.ErrCollision
	}
	hashes := rec.Hashes()
	for _, h := range hashes {
		if _, ok := s.shards[idShard(h)].ids[h]; ok {
			return session.ErrCollision
		}
	}
	s.put(rec, hashes)
	return nil
}

func (s *Store) put(rec *session.Record, hashes []session.Hash) {
	s.shards[s.refShard(rec.Ref)].recs[rec.Ref] = rec
	for _, h := range hashes {
		s.shards[idShard(h)].ids[h] = rec.Ref
	}
	if rec.User != "" {
		us := &s.shards[s.userShard(rec.User)]
		set := us.users[rec.User]
		if set == nil {
			set = map[string]struct{}{}
			us.users[rec.User] = set
		}
		set[rec.Ref] = struct{}{}
	}
}

func (s *Store) remove(rec *session.Record) {
	delete(s.shards[s.refShard(rec.Ref)].recs, rec.Ref)
	for _, h := range rec.Hashes() {
		is := &s.shards[idShard(h)]
		if is.ids[h] == rec.Ref {
			delete(is.ids, h)
		}
	}
	if rec.User != "" {
		us := &s.shards[s.userShard(rec.User)]
		if set := us.users[rec.User]; set != nil {
			delete(set, rec.Ref)
			if len(set) == 0 {
				delete(us.users, rec.User)
			}
		}
	}
}

// current reads the stored record for ref under no lock of its own; the
// caller then locks what both versions touch and re-checks.
func (s *Store) current(ref string) *session.Record {
	rs := &s.shards[s.refShard(ref)]
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	return rs.recs[ref]
}

// Update implements session.Store.
func (s *Store) Update(ctx context.Context, rec *session.Record, prev uint64) error {
	for {
		old := s.current(rec.Ref)
		if old == nil {
			return session.ErrNotFound
		}
		unlock := s.lock(s.shardsFor(old, rec))
		if s.shards[s.refShard(rec.Ref)].recs[rec.Ref] != old {
			unlock() // changed between the peek and the lock: retry
			continue
		}
		err := s.updateLocked(old, rec, prev)
		unlock()
		return err
	}
}

func (s *Store) updateLocked(old, rec *session.Record, prev uint64) error {
	if old.Version != prev {
		return session.ErrConflict
	}
	hashes := rec.Hashes()
	for _, h := range hashes {
		if ref, ok := s.shards[idShard(h)].ids[h]; ok && ref != rec.Ref {
			return session.ErrCollision
		}
	}
	s.remove(old)
	s.put(rec, hashes)
	return nil
}

// Merge implements session.Merger under the locks of every shard the
// stored and the merged version touch.
func (s *Store) Merge(ctx context.Context, c *session.Change) error {
	for {
		old := s.current(c.Next.Ref)
		if old == nil {
			return session.ErrNotFound
		}
		unlock := s.lock(s.shardsFor(old, c.Next))
		if s.shards[s.refShard(old.Ref)].recs[old.Ref] != old {
			unlock() // changed between the peek and the lock: retry
			continue
		}
		next, err := c.Apply(old)
		if err == nil && next != nil {
			err = s.updateLocked(old, next, old.Version)
		}
		unlock()
		return err
	}
}

// Delete implements session.Store.
func (s *Store) Delete(ctx context.Context, ref string) error {
	for {
		old := s.current(ref)
		if old == nil {
			return nil
		}
		unlock := s.lock(s.shardsFor(old))
		same := s.shards[s.refShard(ref)].recs[ref] == old
		if same {
			s.remove(old)
		}
		unlock()
		if same {
			return nil
		}
	}
}

// ListUser implements session.Store.
func (s *Store) ListUser(ctx context.Context, user string) ([]*session.Record, error) {
	us := &s.shards[s.userShard(user)]
	us.mu.RLock()
	refs := make([]string, 0, len(us.users[user]))
	for ref := range us.users[user] {
		refs = append(refs, ref)
	}
	us.mu.RUnlock()
	out := make([]*session.Record, 0, len(refs))
	for _, ref := range refs {
		if r := s.current(ref); r != nil && r.User == user {
			out = append(out, r)
		}
	}
	return out, nil
}

// GC implements session.Store. It locks one shard at a time to find expired
// records, so requests on other shards never wait for it.
func (s *Store) GC(ctx context.Context, now time.Time) (int, error) {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		var dead []string
		for ref, r := range sh.recs {
			if r.ExpiredAt(now) {
				dead = append(dead, ref)
			}
		}
		sh.mu.RUnlock()
		for _, ref := range dead {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			old := s.current(ref)
			if old == nil || !old.ExpiredAt(now) {
				continue
			}
			unlock := s.lock(s.shardsFor(old))
			if sh.recs[ref] == old {
				s.remove(old)
				n++
			}
			unlock()
		}
	}
	return n, nil
}

// Len reports the number of records (for tests and metrics).
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.RLock()
		n += len(s.shards[i].recs)
		s.shards[i].mu.RUnlock()
	}
	return n
}

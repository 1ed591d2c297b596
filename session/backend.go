package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sessiond/sessiond/internal/tick"
	"github.com/sessiond/sessiond/internal/token"
)

// backend is where a Manager keeps its records: a server-side Store
// (storeBackend) or the cookie itself, sealed by a CookieCodec
// (cookieBackend). New chooses one; nothing else asks which.
type backend interface {
	// load resolves the session cookie's value to a live record and
	// adopts it into s; no record (unknown, expired, invalid) is not an
	// error.
	load(s *Session, value string, now time.Time) error
	// lock takes Config.Lock's exclusive lock on rec for the request
	// (released by s.release) and returns the record as it is under the
	// lock: nil if it is gone.
	lock(s *Session, rec *Record) (*Record, error)
	// create writes the first version of s's session.
	create(s *Session, now time.Time) error
	// save writes s's changes (or a touch) to its record.
	save(s *Session, now time.Time) error
	// destroy ends rec server-side (revocation, theft).
	destroy(ctx context.Context, rec *Record) error
	// end ends the session s loaded as base (Logout, Destroy), unless a
	// concurrent request changed its user since: then it returns the
	// stored record, which is no longer s's to end, and leaves it alone.
	end(s *Session, base *Record) (stale *Record, err error)
	// userRecords lists the records of user in the Manager's realm.
	userRecords(ctx context.Context, user string) ([]*Record, error)
	// revokeUser ends every session of user in the realm but the one
	// with ref except, and reports how many (if it can count).
	revokeUser(ctx context.Context, user, except string) (int, error)
	// runGC deletes expired records every interval until ctx ends.
	runGC(ctx context.Context, every time.Duration)
}

// storeBackend keeps records in a Store, under random IDs.
type storeBackend struct {
	m       *Manager
	store   Store
	locks   localLocks // Config.Lock when the store is not a Locker
	retries localLocks // queues this process's retries of one record (see save)
}

func (sb *storeBackend) load(s *Session, value string, now time.Time) error {
	rec, err := sb.m.lookup(s, value, false, now)
	if err != nil || rec == nil {
		return err
	}
	return sb.m.adopt(s, rec, now)
}

// lock takes the store's lock if it is a Locker (across processes), else
// this process's, and reloads the record under it.
func (sb *storeBackend) lock(s *Session, rec *Record) (*Record, error) {
	var unlock func()
	var err error
	if lk, ok := sb.store.(Locker); ok {
		unlock, err = lk.Lock(s.ctx, rec.Ref)
	} else {
		unlock, err = sb.locks.lock(s.ctx, rec.Ref)
	}
	if err != nil {
		return nil, unavailable("lock", err)
	}
	s.unlock = unlock
	fresh, err := sb.store.Load(s.ctx, rec.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		s.release()
		return nil, nil
	case err != nil:
		s.release()
		return nil, unavailable("load", err)
	}
	return fresh, nil
}

// create writes the first version, drawing new IDs on a collision.
func (sb *storeBackend) create(s *Session, now time.Time) error {
	m := sb.m
	for range 4 {
		rec, out := m.newRecord(s, now)
		err := sb.store.Create(s.ctx, rec)
		switch {
		case err == nil:
			m.afterSave(s, rec, out)
			m.auditCreated(s, rec)
			return nil
		case errors.Is(err, ErrCollision):
			// 256 random bits: in practice never; draw again rather than adopt.
			m.cfg.Logger.Warn("session: ID collision on create; drawing again")
			s.pendID, s.pendSecure = pending{}, pending{}
			continue
		default:
			return unavailable("create", err)
		}
	}
	return unavailable("create", errors.New("repeated collisions"))
}

// save writes s's changes to its record: with the store's Merge if it
// has one, else by compare-and-swap, reloading and rebuilding on conflict.
func (sb *storeBackend) save(s *Session, now time.Time) error {
	m := sb.m
	base := s.rec
	onlyTouch := !s.changed() && !s.bindSave && !s.count && !s.mixed.pending()
	merger, _ := sb.store.(Merger)
	var retry backoff
	var queued func()
	defer func() {
		if queued != nil {
			queued()
		}
	}()
	for {
		b := m.build(s, base, now)
		if !b.data && !b.meta && !b.count && !s.touch && b.out == (issued{}) {
			// Nothing to write (e.g. a backend re-sent the values it had).
			m.afterSave(s, base, b.out)
			return nil
		}
		var err error
		if merger != nil {
			err = merger.Merge(s.ctx, sb.change(s, base, b))
		} else {
			err = sb.store.Update(s.ctx, b.next, base.Version)
		}
		switch {
		case err == nil:
			m.afterSave(s, b.next, b.out)
			return nil
		case errors.Is(err, ErrConflict):
			if onlyTouch {
				s.touch = false // someone else just wrote: last-seen is fresh enough
				return nil
			}
			if queued == nil {
				// Retry one at a time within this process: concurrent
				// losers of one record would otherwise keep beating each
				// other; the backoff is for writers in other processes.
				unlock, lerr := sb.retries.lock(s.ctx, base.Ref)
				if lerr != nil {
					return unavailable("update", fmt.Errorf("waiting to retry a conflicting write: %w", lerr))
				}
				queued = unlock
			} else if werr := retry.wait(s.ctx); werr != nil {
				return unavailable("update", werr)
			}
			fresh, lerr := sb.store.Load(s.ctx, base.ID)
			if errors.Is(lerr, ErrNotFound) {
				// Destroyed (logout, revocation) by a concurrent request: it
				// wins; our changes go with it.
				m.cfg.Logger.Info("session: record destroyed concurrently; changes dropped", "ref", base.Ref)
				s.rec = nil
				s.resetChanges()
				return nil
			}
			if lerr != nil {
				return unavailable("reload", lerr)
			}
			if fresh.Ref != base.Ref || fresh.Realm != base.Realm {
				return unavailable("reload", errors.New("ID now names another record"))
			}
			if fresh.User != base.User && (!s.userSet || s.user == "" || s.user != fresh.User) {
				return m.identityChanged(s, base, fresh)
			}
			base = fresh
		case errors.Is(err, ErrCollision):
			s.pendID, s.pendSecure = pending{}, pending{} // the drawn ID is taken: draw again
		case errors.Is(err, ErrNotFound):
			s.rec = nil
			s.resetChanges()
			return nil
		default:
			return unavailable("update", err)
		}
	}
}

// identityChanged ends a save whose base a concurrent request signed in
// or out, or gave another user (a hard rotation; Merger rule 4), unless
// this request is a login of that same user. The change set was built on
// the old identity and must not reach the new one: bookkeeping (a touch,
// a request count, a binding update, a rotation the other request made
// moot) is dropped quietly; anything the handler changed is refused with
// ErrIdentityChanged and audited. Either way nothing is written and no
// cookie is sent: the client keeps its pre-change ID, which now opens the
// anonymous view at most, never a new empty session.
func (m *Manager) identityChanged(s *Session, base, fresh *Record) error {
	handler := len(s.sets) > 0 || len(s.dels) > 0 || s.cleared || s.userSet
	s.resetChanges()
	if !handler {
		return nil
	}
	reason := identityChange(base, fresh)
	m.audit(s.ctx, Event{Type: "session.stale_write_refused", Ref: fresh.Ref, User: fresh.User, IP: s.ipString(),
		UserAgent: s.ua, Attrs: []slog.Attr{slog.String("reason", reason)}})
	return fmt.Errorf("%w (%s since this request loaded the session)", ErrIdentityChanged, reason)
}

// identityChange names how the user of base became fresh's, for audit
// events: "signed-in", "signed-out" or "user-change".
func identityChange(base, fresh *Record) string {
	switch {
	case base.User == "":
		return "signed-in"
	case fresh.User == "":
		return "signed-out"
	}
	return "user-change"
}

// change is the Merger form of s's change set built on base.
func (sb *storeBackend) change(s *Session, base *Record, b built) *Change {
	c := &Change{Base: base, Next: b.next, Set: s.sets, Clear: s.cleared, Meta: b.meta, Count: b.count}
	if len(s.dels) > 0 {
		c.Del = keys(s.dels)
	}
	if s.cleared && sb.m.cfg.Mode == Mixed && !s.secure {
		c.Keep = "secure." // the secure partition is invisible, so not cleared
	}
	return c
}

func (sb *storeBackend) destroy(ctx context.Context, rec *Record) error {
	if err := sb.store.Delete(ctx, rec.Ref); err != nil {
		return unavailable("delete", err)
	}
	return nil
}

// end ends base, the record s loaded, unless the stored record's user is
// no longer base's (a login, a logout or a change of user since: a hard
// rotation, as Merger rule 4): then the stored record is someone else's
// session and is returned untouched — a pre-login request (a sniffed or
// planted ID) must not sign the user out. The check and the end
// are one step: a compare-and-swap on the version checked (Update) retires
// the record first — its IDs replaced by one nobody holds, so no write
// built on an older version can land on it any more (Update's version,
// Merger rule 3's identity) and no ID opens it — then Delete removes it.
// A change that keeps the user (a soft rotation, a data write) does not
// stop a logout.
func (sb *storeBackend) end(s *Session, base *Record) (*Record, error) {
	var retry backoff
	for {
		fresh, err := sb.reload(s.ctx, base)
		if err != nil || fresh == nil {
			return nil, err
		}
		if fresh.Ref != base.Ref || fresh.User != base.User {
			return fresh, nil
		}
		retired := fresh.Clone()
		retired.Version = fresh.Version + 1
		_, retired.ID = token.New()
		retired.SecureID, retired.Aliases = Hash{}, nil
		err = sb.store.Update(s.ctx, retired, fresh.Version)
		switch {
		case err == nil:
			return nil, sb.destroy(s.ctx, fresh)
		case errors.Is(err, ErrNotFound):
			return nil, nil
		case errors.Is(err, ErrConflict), errors.Is(err, ErrCollision):
			if werr := retry.wait(s.ctx); werr != nil {
				return nil, unavailable("delete", werr)
			}
		default:
			return nil, unavailable("delete", err)
		}
	}
}

// reload returns the stored version of base: by its ID, else (the ID
// rotated away and pruned while the request ran) by its user, so a slow
// logout still ends a signed-in session; nil if it is gone.
func (sb *storeBackend) reload(ctx context.Context, base *Record) (*Record, error) {
	fresh, err := sb.store.Load(ctx, base.ID)
	switch {
	case err == nil:
		return fresh, nil
	case !errors.Is(err, ErrNotFound):
		return nil, unavailable("load", err)
	case base.User == "":
		return nil, nil // an anonymous session rotated away or deleted: nothing of this view's to end
	}
	recs, err := sb.userRecords(ctx, base.User)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.Ref == base.Ref {
			return r, nil
		}
	}
	return nil, nil
}

// userRecords lists the records of user in this Manager's realm: a user
// name in another realm is another user (another site's users file).
func (sb *storeBackend) userRecords(ctx context.Context, user string) ([]*Record, error) {
	recs, err := sb.store.ListUser(ctx, user)
	if err != nil {
		return nil, unavailable("list", err)
	}
	out := recs[:0:0]
	for _, r := range recs {
		if r.User == user && r.Realm == sb.m.cfg.Realm {
			out = append(out, r)
		}
	}
	return out, nil
}

func (sb *storeBackend) revokeUser(ctx context.Context, user, except string) (int, error) {
	recs, err := sb.userRecords(ctx, user)
	if err != nil {
		return 0, err
	}
	n := 0
	now := sb.m.cfg.Now()
	for _, r := range recs {
		if r.Ref == except {
			continue
		}
		if err := sb.destroy(ctx, r); err != nil {
			return n, err
		}
		if sb.m.live(r, now) {
			n++ // an ended session kept for ExpiredNotice goes too, uncounted
		}
	}
	sb.m.audit(ctx, Event{Type: "session.revoked_all", User: user,
		Attrs: []slog.Attr{slog.Int("count", n), slog.Bool("kept_current", except != "")}})
	return n, nil
}

func (sb *storeBackend) runGC(ctx context.Context, every time.Duration) {
	m := sb.m
	tick.Every(ctx, every, func(time.Time) {
		n, err := sb.store.GC(ctx, m.cfg.Now())
		if err != nil && ctx.Err() == nil {
			m.cfg.Logger.Error("session: GC failed", "err", err)
		}
		if n > 0 {
			// One event per sweep, with how many records it removed.
			m.audit(ctx, Event{Type: "session.expired", Attrs: []slog.Attr{
				slog.String("source", "gc"), slog.Int("count", n)}})
		}
	})
}

package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// cookieBackend keeps client-side sessions: with Config.Codec the whole
// record travels in the cookie, sealed by the codec (store/cookie). There
// are no server IDs, so no aliases or grace windows; regeneration bumps the
// generation, logout and "revoke all" go through the codec's revocation
// store. Nothing can be listed, locked or collected.
type cookieBackend struct {
	m     *Manager
	codec CookieCodec
}

func (cb *cookieBackend) load(s *Session, value string, now time.Time) error {
	m := cb.m
	rec, err := cb.codec.Decode(s.ctx, m.cfg.Cookie.Name, m.cfg.Realm, value)
	if errors.Is(err, ErrNotFound) {
		return m.unknownID(s, now, "invalid cookie")
	}
	if err != nil {
		return unavailable("decode cookie", err)
	}
	if rec.Realm != m.cfg.Realm {
		return m.foreignRealm(s, rec, now)
	}
	if !m.live(rec, now) {
		return m.expired(s, rec, false, now)
	}
	return m.adopt(s, rec, now)
}

// lock does nothing: the record is the cookie this request carried.
func (cb *cookieBackend) lock(_ *Session, rec *Record) (*Record, error) { return rec, nil }

func (cb *cookieBackend) create(s *Session, now time.Time) error {
	rec, _ := cb.m.newRecord(s, now)
	if err := cb.saveRecord(s, rec); err != nil {
		return err
	}
	cb.m.auditCreated(s, rec)
	return nil
}

func (cb *cookieBackend) save(s *Session, now time.Time) error {
	m := cb.m
	if s.headersSent {
		// The cookie is the data, and it has gone out: say so, never drop silently.
		err := fmt.Errorf("%w: a cookie session cannot save changes made after the response began", ErrResponseStarted)
		m.cfg.Logger.Error("session: changes not saved", "err", err)
		return err
	}
	b := m.build(s, s.rec, now)
	if !b.data && !b.meta && !b.count && !s.touch {
		s.resetChanges() // nothing changed: the cookie the client has stays valid
		return nil
	}
	if err := cb.saveRecord(s, b.next); err != nil {
		return err
	}
	m.auditRotation(s, b.next, b.out.rotation)
	return nil
}

// saveRecord seals rec into the cookie to send.
func (cb *cookieBackend) saveRecord(s *Session, rec *Record) error {
	m := cb.m
	rec.ID, rec.SecureID, rec.Aliases = Hash{}, Hash{}, nil
	v, err := cb.codec.Encode(s.ctx, m.cfg.Cookie.Name, rec)
	if err != nil {
		return err
	}
	c := m.baseCookie(m.cfg.Cookie.Name, !s.devHTTP)
	c.Value = v
	s.queue(c)
	s.rec = rec
	s.loadedGen = rec.Generation
	s.resetChanges()
	return nil
}

// destroy revokes every cookie of rec (logout).
func (cb *cookieBackend) destroy(ctx context.Context, rec *Record) error {
	if err := cb.codec.Revoke(ctx, rec); err != nil {
		return unavailable("revoke", err)
	}
	return nil
}

// end revokes base's cookies: the cookie store keeps no shared record
// whose user could have changed under this request, so there is nothing
// to compare with.
func (cb *cookieBackend) end(s *Session, base *Record) (*Record, error) {
	return nil, cb.destroy(s.ctx, base)
}

func (cb *cookieBackend) userRecords(context.Context, string) ([]*Record, error) {
	return nil, fmt.Errorf("session: a user's sessions can be listed only in a server-side store: %w", errors.ErrUnsupported)
}

// revokeUser sets the codec's per-user "revoked before" time, in this
// realm. It cannot count, so it reports 0.
//
// To keep a session, except must be the session of the request in ctx
// (FromContext), whose cookie has not gone out yet: every cookie of the
// user issued until now is revoked, and that session gets a new cookie.
func (cb *cookieBackend) revokeUser(ctx context.Context, user, except string) (int, error) {
	m := cb.m
	now := m.cfg.Now()
	before := now
	var keep *Session
	if except != "" {
		keep = FromContext(ctx)
		if keep == nil || keep.Ref() != except {
			return 0, fmt.Errorf("session: keeping a cookie session other than the request's own while revoking the others: %w", errors.ErrUnsupported)
		}
		keep.mu.Lock()
		defer keep.mu.Unlock()
		if keep.headersSent {
			return 0, fmt.Errorf("%w: the kept session's new cookie can no longer be sent", ErrResponseStarted)
		}
		// Cookies keep whole milliseconds, and the codec counts one issued
		// within the millisecond of before as issued before it: every
		// cookie issued up to now — also earlier in this millisecond — is
		// revoked, and the kept session's new cookie (regenerated) counts
		// as issued at the next millisecond.
		keep.issueAfter = time.UnixMilli(now.UnixMilli() + 1)
	}
	if err := cb.codec.RevokeUser(ctx, m.cfg.Realm, user, before); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return 0, err
		}
		return 0, unavailable("revoke user", err)
	}
	if keep != nil && keep.regen == regenNone {
		keep.regen, keep.regenWhy = regenSoft, "revoke-others"
	}
	m.audit(ctx, Event{Type: "session.revoked_all", User: user,
		Attrs: []slog.Attr{slog.Bool("kept_current", except != ""), slog.String("store", "cookie")}})
	return 0, nil
}

// runGC returns at once: an expired cookie is refused when it is decoded,
// and the codec's revocation store sweeps itself.
func (cb *cookieBackend) runGC(context.Context, time.Duration) {}

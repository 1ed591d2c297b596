package session

import (
	"errors"
	"time"
)

// Client-side sessions: with Config.Codec the whole record travels in the
// cookie, sealed by the codec (store/cookie). There are no server IDs, so
// no aliases or grace windows; regeneration bumps the generation, logout
// and "revoke all" go through the codec's revocation store.

func (m *Manager) loadCookie(s *Session, value string, now time.Time) error {
	rec, err := m.cfg.Codec.Decode(s.ctx, m.cfg.Cookie.Name, m.cfg.Realm, value)
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
		m.expired(s, rec, false, now)
		return nil
	}
	return m.adopt(s, rec, now)
}

func (m *Manager) saveCookie(s *Session, now time.Time) error {
	b := m.build(s, s.rec, now)
	if !b.data && !b.meta && !b.count && !s.touch {
		s.resetChanges() // nothing changed: the cookie the client has stays valid
		return nil
	}
	if err := m.saveCookieRecord(s, b.next); err != nil {
		return err
	}
	m.auditRotation(s, b.next, b.out.rotation)
	return nil
}

func (m *Manager) saveCookieRecord(s *Session, rec *Record) error {
	rec.ID, rec.SecureID, rec.Aliases = Hash{}, Hash{}, nil
	v, err := m.cfg.Codec.Encode(s.ctx, m.cfg.Cookie.Name, rec)
	if err != nil {
		return err
	}
	c := m.baseCookie(m.cfg.Cookie.Name, !s.devHTTP)
	c.Value = v
	s.queue(c)
	s.rec = rec
	s.loadedRotated = rec.Rotated
	s.resetChanges()
	return nil
}

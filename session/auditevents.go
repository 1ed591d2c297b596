package session

import (
	"log/slog"
	"time"
)

// The session lifecycle's audit events (docs/audit.md has the schema).
// None carries an ID or an ID hash: Ref names the record.

// rotation describes one regeneration of an existing ID.
type rotation struct {
	soft   bool   // the old ID leads to the new one for the grace window
	reason string // periodic, requests, explicit, login, user-change, logout-user, binding, step-up, ...
}

// regenReason names why this request regenerates its ID.
func (s *Session) regenReason() string {
	switch {
	case s.regenWhy != "":
		return s.regenWhy
	case s.userSet && s.user == "":
		return "signed-out"
	case s.userSet && s.rec != nil && s.rec.User != "" && s.rec.User != s.user:
		return "user-change"
	case s.userSet:
		return "login"
	}
	return "explicit"
}

func (m *Manager) auditRotation(s *Session, rec *Record, r rotation) {
	if r.reason == "" {
		return
	}
	kind := "hard"
	if r.soft {
		kind = "soft"
	}
	m.audit(s.ctx, Event{Type: "session.rotated", Ref: rec.Ref, User: rec.User, IP: s.ipString(), UserAgent: s.ua,
		Attrs: []slog.Attr{slog.String("kind", kind), slog.String("reason", r.reason), slog.Int("generation", rec.Generation),
			slog.Bool("secure", s.secure)}})
}

func (m *Manager) auditCreated(s *Session, rec *Record) {
	m.audit(s.ctx, Event{Type: "session.created", Ref: rec.Ref, User: rec.User, IP: s.ipString(), UserAgent: s.ua,
		Attrs: []slog.Attr{slog.Bool("secure", s.secure), slog.String("mode", m.cfg.Mode.String())}})
}

// expired handles a presented ID whose record has expired: audited, and
// the cookie is cleared (without Clear-Site-Data: the site's other cookies
// are not the session's business), so the browser stops presenting it. A
// browser presents it once; a client replaying it counts against the
// unknown-ID limit (ErrThrottled past it, no more audit lines), as it did
// once the record was collected.
func (m *Manager) expired(s *Session, rec *Record, secure bool, now time.Time) error {
	if err := m.countBadID(s, now); err != nil {
		return err
	}
	var limit string
	switch e := m.expiry(rec); {
	case m.cfg.IdleTimeout > 0 && e.Equal(rec.LastSeen.Add(m.cfg.IdleTimeout)):
		limit = "idle_timeout"
	case m.cfg.AbsoluteTimeout > 0 && e.Equal(rec.Created.Add(m.cfg.AbsoluteTimeout)):
		limit = "absolute_timeout"
	default:
		limit = "max_age"
	}
	m.audit(s.ctx, Event{Time: now, Type: "session.expired", Ref: rec.Ref, User: rec.User, IP: s.ipString(), UserAgent: s.ua,
		Attrs: []slog.Attr{slog.String("source", "request"), slog.String("limit", limit), slog.Time("last_seen", rec.LastSeen)}})
	name, secureCookie := m.cfg.Cookie.Name, m.cfg.Mode == HTTPSOnly
	if secure {
		name, secureCookie = m.cfg.Cookie.SecureName, true
	}
	if secureCookie && !s.secure {
		return nil
	}
	c := m.baseCookie(name, secureCookie)
	c.MaxAge = -1
	s.queue(c)
	return nil
}

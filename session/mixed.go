package session

import (
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"time"

	"github.com/sessiond/sessiond/internal/redirect"
)

// Mixed HTTP/HTTPS sessions: how one session serves both schemes without
// letting what travelled over HTTP reach what HTTPS protects.
//
// One record carries two IDs: the insecure ID (cookie without Secure, sent
// over HTTP and HTTPS) and the secure ID (Secure cookie, only ever set in
// HTTPS responses, ignored if it arrives over HTTP). Over HTTP only the
// insecure partition is visible — keys outside "secure." — and the user is
// anonymous unless AllowHTTPAuth. So an insecure ID sniffed over HTTP is
// worth the cart, never the account.
//
//   - Step up: the first HTTPS request with only the insecure ID issues the
//     secure ID and regenerates the insecure one (the old one is
//     grace-aliased), keeping all data.
//   - Fork: an HTTPS request with only the insecure ID on a record that
//     already has a secure ID never gets the secure partition: it gets a new
//     record with a copy of the insecure data, and the event is audited.
//   - Step down: the first HTTP request after secure activity regenerates
//     the insecure ID. Switching back and forth never creates records.
//   - StaySecure: after a step up, HTTP requests of the session are
//     redirected to HTTPS instead of stepping down.

// mixedState is a request's pending mixed-mode work.
type mixedState struct {
	stepUp      bool // issue the secure ID, rotate the insecure one
	stepDown    bool // rotate the insecure ID, clear SecureSeen
	markSecure  bool // note secure activity (so the next HTTP request steps down)
	newInsecure bool // the client lacks a valid insecure ID: issue one
	forked      bool // the request's insecure ID was forked off its record
}

func (ms *mixedState) pending() bool {
	return ms.stepUp || ms.stepDown || ms.markSecure || ms.newInsecure
}

// visible reports whether this request may read or write key.
func (s *Session) visible(key string) bool {
	return s.m.cfg.Mode != Mixed || s.secure || !isSecureKey(key)
}

// identityVisible reports whether this request may see the user.
func (s *Session) identityVisible() bool {
	return s.m.cfg.Mode != Mixed || s.secure || s.m.cfg.AllowHTTPAuth
}

func (s *Session) loginAllowed() error {
	if s.secure || s.devHTTP || (s.m.cfg.Mode == Mixed && s.m.cfg.AllowHTTPAuth) {
		return nil
	}
	return ErrInsecure
}

// canSave: HTTPS-only sessions are never written over plain HTTP (but
// see Config.AllowHTTP).
func (s *Session) canSave() bool { return s.m.cfg.Mode == Mixed || s.secure || s.devHTTP }

// usesSecureID: the credential of this request is the secure ID.
func (s *Session) usesSecureID() bool { return s.m.cfg.Mode == Mixed && s.secure }

// queueSecureID sends the mixed-mode secure cookie.
func (m *Manager) queueSecureID(s *Session, id string) {
	if !s.secure {
		return // never: a secure ID does not travel over HTTP
	}
	c := m.baseCookie(m.cfg.Cookie.SecureName, true)
	c.Value = id
	s.queue(c)
}

func (m *Manager) loadMixed(s *Session, r *http.Request, now time.Time) error {
	insVal, nIns := cookieValues(r, m.cfg.Cookie.Name)
	var secVal string
	var nSec int
	if s.secure { // a secure ID arriving over plain HTTP is ignored, never used
		secVal, nSec = cookieValues(r, m.cfg.Cookie.SecureName)
	}
	if nIns+nSec == 0 {
		return nil
	}
	s.hadCookie = true
	if nIns > 1 || nSec > 1 {
		m.cfg.Auditor.Audit(s.ctx, Event{Time: now, Type: "session.duplicate_cookie", IP: s.ipString(), UserAgent: s.ua})
		return nil
	}
	var throttled error // an unknown secure ID past the limit: refused only if nothing valid comes with it
	if nSec == 1 {
		rec, err := m.lookup(s, secVal, true, now)
		if errors.Is(err, ErrThrottled) {
			throttled, err = err, nil
		}
		if err != nil {
			return err
		}
		if rec != nil {
			if nIns == 1 {
				if cur := follow(rec, insVal, false); cur != "" {
					s.rawID = cur
					if cur != insVal {
						m.queueID(s, cur)
					}
				}
			}
			if s.rawID == "" {
				s.mixed.newInsecure = true // lost or foreign insecure cookie: issue a fresh one
			}
			if rec.SecureSeen.IsZero() {
				s.mixed.markSecure = true
			}
			return m.adopt(s, rec, now)
		}
	}
	if nIns != 1 {
		return throttled
	}
	rec, err := m.lookup(s, insVal, false, now)
	if err != nil {
		return err
	}
	if rec == nil {
		return throttled
	}
	switch {
	case !s.secure:
		if !rec.SecureSeen.IsZero() {
			s.mixed.stepDown = true
		}
	case rec.SecureID.IsZero():
		s.mixed.stepUp = true
	default:
		m.fork(s, rec, now)
		return nil
	}
	return m.adopt(s, rec, now)
}

// fork starts a new session holding a copy of rec's insecure data: the
// request has only the insecure ID of a record whose secure partition
// belongs to whoever holds its secure ID.
func (m *Manager) fork(s *Session, rec *Record, now time.Time) {
	m.cfg.Auditor.Audit(s.ctx, Event{Time: now, Type: "session.fork", Ref: rec.Ref, User: rec.User,
		IP: s.ipString(), UserAgent: s.ua, Attrs: []slog.Attr{slog.String("reason", "insecure ID over HTTPS on a record with a secure ID")}})
	s.rec = nil
	s.rawID = ""
	s.mixed.forked = true
	for k, v := range maps.All(rec.Data) {
		if !isSecureKey(k) {
			if s.sets == nil {
				s.sets = map[string]string{}
			}
			s.sets[k] = v
		}
	}
}

// Transition names the mixed-mode change of transport this request makes
// to its session, decided when the session was loaded: "step-up" (first
// HTTPS request: the secure ID is issued, or the session is back on HTTPS
// after HTTP activity; the insecure ID is regenerated), "step-down" (first
// HTTP request after HTTPS activity: the insecure ID is regenerated),
// "fork" (an insecure ID over HTTPS on a record that has a secure ID: this
// request got a new session with a copy of the insecure data), or "".
func (s *Session) Transition() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ms := s.mixed; {
	case ms.forked:
		return "fork"
	case ms.stepUp || ms.markSecure:
		return "step-up"
	case ms.stepDown:
		return "step-down"
	}
	return ""
}

// Regenerating reports whether this request will give its session a new
// ID, as decided so far: periodic rotation (Config.RotateEvery,
// RotateRequests), Regenerate, Login or Logout. Transport switches
// (Transition) regenerate too and are not counted here.
func (s *Session) Regenerating() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.regen != regenNone
}

// mixedBuild applies the transport switch to next.
func (m *Manager) mixedBuild(s *Session, base, next *Record, regen regenKind, out *issued, now time.Time) {
	if m.cfg.Mode != Mixed {
		return
	}
	ms := &s.mixed
	rotateIns, leadOn := false, false
	why := "" // for the audit log
	if ms.stepUp && base.SecureID.IsZero() {
		if next.SecureID.IsZero() {
			s.pendSecure.draw(m.cfg.Realm)
			next.SecureID, out.secureID = s.pendSecure.hash, s.pendSecure.raw
		}
		rotateIns, leadOn, why = true, true, "step-up"
	}
	if ms.markSecure && base.SecureSeen.IsZero() {
		// Back on HTTPS after HTTP activity: a step up of an existing
		// secure session also regenerates the insecure ID, retiring the one
		// that travelled over HTTP before the step up.
		rotateIns, leadOn, why = true, true, "step-up"
	}
	if s.secure && next.SecureSeen.IsZero() && !next.SecureID.IsZero() {
		next.SecureSeen = now
	}
	if ms.stepDown && !base.SecureSeen.IsZero() {
		rotateIns, leadOn, why = true, true, "step-down"
		next.SecureSeen = time.Time{}
	}
	if ms.newInsecure {
		rotateIns, why = true, "new-insecure-id"
	}
	if s.secure && regen == regenHard {
		// Login over HTTPS: an insecure ID known before it (fixation) must
		// not stay attached to the authenticated record.
		rotateIns, leadOn, why = true, false, s.regenReason()
	}
	if rotateIns && out.id == "" {
		out.id = m.rotateID(s, base, next, false, leadOn, now)
		if out.rotation.reason == "" && !base.ID.IsZero() {
			out.rotation = rotation{soft: leadOn, reason: why}
		}
	}
}

// redirectStaySecure sends a stepped-up session's HTTP request to HTTPS
// when StaySecure is on, instead of stepping down.
func (m *Manager) redirectStaySecure(s *Session, w http.ResponseWriter, r *http.Request) bool {
	if m.cfg.Mode != Mixed || !m.cfg.StaySecure || s.secure || s.rec == nil || s.rec.SecureSeen.IsZero() {
		return false
	}
	target := m.cfg.HTTPSURL(r)
	if target == "" {
		return false
	}
	s.cacheHeaders(w.Header(), false)
	http.Redirect(w, r, target, redirect.Status(r.Method, false))
	return true
}

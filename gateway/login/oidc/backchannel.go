package oidc

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sessiond/sessiond/session"
)

// serveBackchannel takes a provider's logout token (Back-Channel Logout
// 1.0): once verified, every session of its sid, or of its sub, signed
// in before it, is signed out.
func (m *Method) serveBackchannel(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST a logout_token", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	raw := r.PostFormValue("logout_token")
	sub, sid, reason := m.verifyLogout(r.Context(), raw)
	if reason != "" {
		m.site.Audit(r, session.Event{Type: "oidc.backchannel_refused", Attrs: []slog.Attr{slog.String("reason", reason)}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_request"}` + "\n"))
		return
	}
	now := m.now()
	// Sessions signed in here end now; any other (another gateway's, or
	// from before a restart) is signed out at its next request.
	m.ended.add(sid, sub, now, now.Add(m.keepEnded()))
	revoked := 0
	for _, si := range m.signins.take(sid, sub) {
		switch err := m.site.RevokeSession(r.Context(), si.user, si.ref); {
		case err == nil:
			revoked++
		case !errors.Is(err, session.ErrNotFound) && !errors.Is(err, errors.ErrUnsupported):
			// (The cookie store cannot end one session from here: the
			// ended marker signs it out at its next request.)
			m.site.Logger().Error("oidc: back-channel logout", "err", err)
		}
	}
	if sub != "" && m.cfg.UserClaim == "sub" {
		// The user is the sub: every one of their sessions in the realm
		// ends now, on every gateway of a server store.
		n, err := m.site.RevokeUser(r.Context(), sub)
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			m.site.Logger().Error("oidc: back-channel logout", "err", err)
		}
		revoked += n
	}
	m.site.Audit(r, session.Event{Type: "oidc.backchannel_logout", User: sub, Attrs: []slog.Attr{
		slog.Bool("sid", sid != ""), slog.Int("revoked", revoked)}})
	w.WriteHeader(http.StatusOK)
}

// keepEnded is how long a back-channel logout is remembered: until every
// session it could name has expired by itself.
func (m *Method) keepEnded() time.Duration { return 48 * time.Hour }

// verifyLogout checks a logout token: signature, issuer, audience and
// expiry as for an ID token, the back-channel logout event, no nonce, and
// a sid or sub.
func (m *Method) verifyLogout(parent context.Context, raw string) (sub, sid, reason string) {
	if raw == "" {
		return "", "", "no_token"
	}
	d, err := m.discover(parent, false)
	if err != nil {
		return "", "", "provider_down"
	}
	ctx, cancel := m.ctx(parent)
	defer cancel()
	tok, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return "", "", verifyReason(err)
	}
	var c struct {
		Sub    string         `json:"sub"`
		SID    string         `json:"sid"`
		Nonce  *string        `json:"nonce"`
		Events map[string]any `json:"events"`
	}
	if err := tok.Claims(&c); err != nil {
		return "", "", "claims"
	}
	switch _, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; {
	case !ok:
		return "", "", "not_a_logout_token"
	case c.Nonce != nil:
		return "", "", "nonce_present"
	case c.Sub == "" && c.SID == "":
		return "", "", "no_sub_or_sid"
	}
	return c.Sub, c.SID, ""
}

// endedSet holds the sids and subs back-channel logouts ended, with when.
type endedSet struct {
	mu sync.Mutex
	by map[string]endedAt
}

type endedAt struct{ at, until time.Time }

func newEndedSet() *endedSet { return &endedSet{by: map[string]endedAt{}} }

func (s *endedSet) add(sid, sub string, at, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.by {
		if at.After(e.until) {
			delete(s.by, k)
		}
	}
	if sid != "" {
		s.by["sid:"+sid] = endedAt{at, until}
	}
	if sub != "" {
		s.by["sub:"+sub] = endedAt{at, until}
	}
}

// ended reports whether a session of sid and sub signed in at since was
// ended by a back-channel logout after it.
func (s *endedSet) ended(sid, sub string, since time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range []string{"sid:" + sid, "sub:" + sub} {
		if e, ok := s.by[k]; ok && len(k) > 4 && !e.at.Before(since) {
			return true
		}
	}
	return false
}

// signinIndex remembers which sessions this gateway signed in under each
// provider session (sid) and subject, so that a back-channel logout ends
// them at once.
type signinIndex struct {
	mu sync.Mutex
	by map[string][]signin
}

type signin struct {
	user, ref string
	until     time.Time
}

func newSigninIndex() *signinIndex { return &signinIndex{by: map[string][]signin{}} }

// add records the session ref of user, signed in under sid and sub, until
// it cannot outlive until.
func (x *signinIndex) add(sid, sub, user, ref string, now, until time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, list := range x.by {
		kept := list[:0]
		for _, si := range list {
			if now.Before(si.until) {
				kept = append(kept, si)
			}
		}
		if len(kept) == 0 {
			delete(x.by, k)
		} else {
			x.by[k] = kept
		}
	}
	for _, k := range []string{"sid:" + sid, "sub:" + sub} {
		if len(k) > 4 {
			x.by[k] = append(x.by[k], signin{user, ref, until})
		}
	}
}

// take removes and returns the sessions signed in under sid or sub.
func (x *signinIndex) take(sid, sub string) []signin {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []signin
	for _, k := range []string{"sid:" + sid, "sub:" + sub} {
		if len(k) > 4 {
			out = append(out, x.by[k]...)
			delete(x.by, k)
		}
	}
	return out
}

package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/sessiond/sessiond/session"
)

// Who vouched for a session's user, and when the password was last proven:
// kept in the session's internal keys (never shown to backends).
//
// A user signed in by the gateway (its login form, or an Apache session it
// migrated) must stay in the site's users file: on every request of such a
// session the user is looked up, and one that is no longer in the file is
// signed out. When the file is reloaded (it is watched, and SIGHUP reloads
// it at once), every session of each removed user is revoked. Users that a
// backend signs in (X-Session-Action: login) are the backend's to manage.
const (
	authAtKey  = internalPrefix + "auth_at"  // unix milliseconds of the last password proof
	authViaKey = internalPrefix + "auth_via" // authViaGateway or authViaBackend
)

const (
	authViaGateway = "gateway"
	authViaBackend = "backend"
)

// markAuth records that sess's user was just authenticated by via.
func markAuth(sess *session.Session, via string, now time.Time) {
	sess.Set(authAtKey, strconv.FormatInt(now.UnixMilli(), 10))
	sess.Set(authViaKey, via)
}

// userRemoved reports whether sess is signed in as a user that the site's
// users file vouched for and no longer holds.
func (s *site) userRemoved(sess *session.Session) (string, bool) {
	if s.users == nil || sess == nil {
		return "", false
	}
	user := sess.User()
	if via := sess.Get(authViaKey); user == "" || (via != "" && via != authViaGateway) {
		return "", false // the backend's user, or another login method's
	}
	return user, !s.users.Has(user)
}

// signOutRemoved treats a request of a removed user as signed out: the
// session is ended and the request goes on anonymously.
func (s *site) signOutRemoved(r *http.Request, sess *session.Session) {
	user, removed := s.userRemoved(sess)
	if !removed {
		return
	}
	ref := sess.Ref()
	if err := sess.Logout(); err != nil {
		s.log.Error("gateway: signing out a removed user", "err", err)
	}
	s.audit(r, session.Event{Type: "session.user_removed", User: user, Ref: ref})
}

// revokeRemoved revokes every session of users removed from the users
// file (called when the file is reloaded).
func (s *site) revokeRemoved(removed []string) {
	if s.m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, user := range removed {
		n, err := s.m.RevokeUserSessions(ctx, user, "")
		ev := session.Event{Time: time.Now(), Type: "user.removed", User: user,
			Attrs: []slog.Attr{slog.String("site", s.cfg.Name), slog.Int("revoked", n)}}
		if err != nil {
			// The cookie store may not list sessions: each is signed out at
			// its next request instead.
			ev.Attrs = append(ev.Attrs, slog.String("revoke_error", err.Error()))
			if !errors.Is(err, errors.ErrUnsupported) {
				s.log.Error("gateway: revoking a removed user's sessions", "err", err)
			}
		}
		if s.remember != nil {
			if _, err := forgetRemembered(ctx, s.remember.st, s.remember.realm, user); err != nil {
				s.log.Error("gateway: removed user", "err", err)
			}
		}
		s.auditor.Audit(ctx, ev)
	}
}

// ReloadUsers re-reads every site's users file now if it changed (SIGHUP),
// revoking the sessions of removed users.
func (g *Gateway) ReloadUsers() {
	for _, s := range g.order {
		if s.users == nil {
			continue
		}
		if err := s.users.Reload(); err != nil {
			s.log.Error("gateway: users file reload failed; the previous users stay in force", "err", err)
		}
	}
}

// watchUsers looks for changed users files every interval until ctx ends.
func (g *Gateway) watchUsers(ctx context.Context, every time.Duration) {
	periodically(ctx, every, g.ReloadUsers)
}

// periodically calls fn every interval until ctx ends.
func periodically(ctx context.Context, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// reauthNeeded reports whether sess's password proof is older than the
// site's ReauthAfter (or missing), so that actions over other sessions ask
// for the password again: a copied cookie alone must not sign the owner
// out everywhere.
func (s *site) reauthNeeded(sess *session.Session, now time.Time) bool {
	if s.cfg.Auth.ReauthAfter <= 0 {
		return false // 0: never asks again
	}
	at, err := strconv.ParseInt(sess.Get(authAtKey), 10, 64)
	return err != nil || now.Sub(time.UnixMilli(at)) > s.cfg.Auth.ReauthAfter
}

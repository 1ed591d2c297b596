package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

// rememberField is the login form's "Keep me signed in" checkbox.
const rememberField = "remember"

// realmSep joins a realm and a user name into the user of a remember key,
// so that keys (and the theft response) stay within one realm.
const realmSep = "\x1f"

// autoLogin is a site's remember-me: one-time keys in a remember.Store,
// scoped to the site's realm.
type autoLogin struct {
	m     *remember.Manager
	st    remember.Store
	realm string
}

// newAutoLogin builds the site's remember-me when auth.remember is enabled.
func newAutoLogin(s *site, st remember.Store, auditor session.Auditor) (*autoLogin, error) {
	if !s.cfg.Auth.Remember.Enabled {
		return nil, nil
	}
	if st == nil {
		return nil, fmt.Errorf("site %q: remember-me needs Config.RememberStore: %w", s.cfg.Name, errors.ErrUnsupported)
	}
	if s.m == nil || s.users == nil {
		return nil, fmt.Errorf("site %q: remember-me needs sessions and the gateway's login", s.cfg.Name)
	}
	a := &autoLogin{st: st, realm: s.m.Config().Realm}
	m, err := remember.New(remember.Config{Store: st, MaxAge: s.cfg.Auth.Remember.Lifetime, ReuseGrace: s.cfg.Auth.Remember.ReuseGrace, Auditor: realmAuditor{auditor, a.realm},
		TrustedProxies: s.m.Config().TrustedProxies, // the audited client, as clientAddr judges it
		// Another realm's key (another site of this gateway, another
		// gateway on the store) or a removed user's is left untouched.
		Owns: func(keyUser string) bool {
			u := a.user(keyUser)
			return u != "" && wire.ValidUser(u) && s.users.Has(u)
		},
		OnReuse: func(ctx context.Context, user string) error {
			_, err := s.m.RevokeUserSessions(ctx, a.user(user), "")
			return err
		}})
	if err != nil {
		return nil, fmt.Errorf("site %q: %w", s.cfg.Name, err)
	}
	a.m = m
	return a, nil
}

func (a *autoLogin) key(user string) string { return a.realm + realmSep + user }

// user strips the realm off a key's user ("" if it is another realm's).
func (a *autoLogin) user(keyUser string) string {
	u, ok := strings.CutPrefix(keyUser, a.realm+realmSep)
	if !ok {
		return ""
	}
	return u
}

// realmAuditor names the user without the realm in remember.* events.
type realmAuditor struct {
	next  session.Auditor
	realm string
}

func (r realmAuditor) Audit(ctx context.Context, e session.Event) {
	if u, ok := strings.CutPrefix(e.User, r.realm+realmSep); ok {
		e.User = u
	}
	e.Attrs = append(e.Attrs, slog.String("realm", r.realm))
	r.next.Audit(ctx, e)
}

// signIn logs a request without a signed-in session in with its remember
// cookie, if it carries a valid one: a hard login (new session ID) and a
// rotated cookie. Only over HTTPS.
func (s *site) rememberSignIn(w http.ResponseWriter, r *http.Request, sess *session.Session) {
	a := s.remember
	if a == nil || sess == nil || sess.User() != "" || !s.isSecure(r) || len(r.CookiesNamed(a.m.CookieName())) == 0 {
		return
	}
	keyUser, err := a.m.Authenticate(w, r)
	if err != nil {
		if errors.Is(err, remember.ErrReused) || (!errors.Is(err, remember.ErrNotFound) && !errors.Is(err, remember.ErrInvalid) && !errors.Is(err, remember.ErrRaced)) {
			s.log.Warn("gateway: remember-me sign-in refused", "err", err)
		}
		return
	}
	user := a.user(keyUser)
	if user == "" || !wire.ValidUser(user) || !s.users.Has(user) {
		a.m.Forget(w, r) //nolint:errcheck // best effort; the key was consumed anyway
		return
	}
	if err := sess.Login(user); err != nil {
		s.log.Error("gateway: remember-me login", "err", err)
		return
	}
	// Signed in by the key, not by a password: no password-proof time.
	sess.Set(authViaKey, authViaGateway)
	s.csrf.Rotate(r)
	s.logEvent(sess, "login")
	s.audit(r, session.Event{Type: "login.remember", User: user, Ref: sess.Ref()})
}

// rememberLogin issues (ticked) or forgets (unticked) this browser's key
// after a password login.
func (l *login) rememberLogin(w http.ResponseWriter, r *http.Request, user string) {
	a := l.s.remember
	if a == nil {
		return
	}
	var err error
	if r.PostFormValue(rememberField) != "" {
		err = a.m.Issue(w, r, a.key(user))
	} else {
		err = a.m.Forget(w, r)
	}
	if err != nil {
		l.s.log.Error("gateway: remember-me", "err", err)
	}
}

// rememberForget deletes this browser's key (logout).
func (s *site) rememberForget(w http.ResponseWriter, r *http.Request) {
	if s.remember == nil {
		return
	}
	if err := s.remember.m.Forget(w, r); err != nil {
		s.log.Error("gateway: remember-me logout", "err", err)
	}
}

// rememberDisable deletes every remember key of user in the site's realm
// and this browser's cookie: after "sign out everywhere (else)" or
// revoking a session, no remembered browser may sign straight back in
// (keys are not tied to sessions, so all of them go).
func (s *site) rememberDisable(w http.ResponseWriter, r *http.Request, user string) {
	if s.remember == nil {
		return
	}
	if err := s.remember.m.Disable(w, r, s.remember.key(user)); err != nil {
		s.log.Error("gateway: remember-me revoke", "err", err)
	}
}

// forgetRemembered deletes every remember key of user in realm (an
// admin's revoke, a user removed from the users file).
func forgetRemembered(ctx context.Context, st remember.Store, realm, user string) (int, error) {
	if st == nil {
		return 0, nil
	}
	n, err := st.DeleteUser(ctx, realm+realmSep+user)
	if err != nil {
		return n, fmt.Errorf("gateway: deleting %s's remember-me keys: %w", user, err)
	}
	return n, nil
}

type rememberReqKey struct{}

// keepRememberCookie keeps, in r's context, a copy of r that still holds
// the remember cookie the backend will not see, for a backend's logout.
func (s *site) keepRememberCookie(r *http.Request) *http.Request {
	if s.remember == nil || len(r.CookiesNamed(s.remember.m.CookieName())) == 0 {
		return r
	}
	orig := r.Clone(r.Context())
	return r.WithContext(context.WithValue(r.Context(), rememberReqKey{}, orig))
}

// rememberRequest is the request as the client sent it (see
// keepRememberCookie).
func rememberRequest(r *http.Request) *http.Request {
	if orig, ok := r.Context().Value(rememberReqKey{}).(*http.Request); ok {
		return orig
	}
	return r
}

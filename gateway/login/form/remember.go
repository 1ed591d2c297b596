package form

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

// rememberField is the login form's "Keep me signed in" checkbox.
const rememberField = "remember"

// autoLogin is a site's remember-me: one-time keys in a remember.Store,
// scoped to the site's realm.
type autoLogin struct {
	m *remember.Manager
}

// newAutoLogin builds the site's remember-me when auth.remember is enabled.
func newAutoLogin(fm *Method, cfg Config) (*autoLogin, error) {
	if !cfg.Auth.Remember.Enabled {
		return nil, nil
	}
	s := fm.s
	if cfg.RememberStore == nil {
		return nil, fmt.Errorf("remember-me needs a remember store: %w", errors.ErrUnsupported)
	}
	m, err := remember.New(remember.Config{Store: cfg.RememberStore, MaxAge: cfg.Auth.Remember.Lifetime, ReuseGrace: cfg.Auth.Remember.ReuseGrace,
		// Another realm's key (another site of this gateway, another
		// gateway on the store) or a removed user's is left untouched.
		Realm:          s.Realm(),
		Owns:           func(user string) bool { return wire.ValidUser(user) && fm.users.Has(user) },
		Auditor:        cfg.Auditor,
		TrustedProxies: cfg.TrustedProxies, // the audited client, as the site judges it
		OnReuse: func(ctx context.Context, user string) error {
			_, err := s.RevokeUser(ctx, user)
			return err
		}})
	if err != nil {
		return nil, err
	}
	return &autoLogin{m: m}, nil
}

// Recognize implements login.Method: a request without a signed-in user
// that carries a valid remember-me cookie is signed in with it (a hard
// login, a rotated cookie). Only over HTTPS.
func (m *Method) Recognize(w http.ResponseWriter, r *http.Request, sess *session.Session) {
	a := m.remember
	if a == nil || !m.s.IsSecure(r) || len(r.CookiesNamed(a.m.CookieName())) == 0 {
		return
	}
	user, err := a.m.Authenticate(w, r)
	if err != nil {
		if errors.Is(err, remember.ErrReused) || (!errors.Is(err, remember.ErrNotFound) && !errors.Is(err, remember.ErrInvalid) && !errors.Is(err, remember.ErrRaced)) {
			m.s.Logger().Warn("gateway: remember-me sign-in refused", "err", err)
		}
		return
	}
	if !wire.ValidUser(user) || !m.users.Has(user) {
		a.m.Forget(w, r) //nolint:errcheck // best effort; the key was consumed anyway
		return
	}
	// Signed in by the key, not by a password: not Proven.
	if err := m.s.SignIn(w, r, login.SignIn{User: user, Method: Name}); err != nil {
		m.s.Logger().Error("gateway: remember-me login", "err", err)
		return
	}
	m.s.Audit(r, session.Event{Type: "login.remember", User: user, Ref: sess.Ref()})
}

// rememberLogin issues (ticked) or forgets (unticked) this browser's key
// after a password login.
func (m *Method) rememberLogin(w http.ResponseWriter, r *http.Request, user string) {
	a := m.remember
	if a == nil {
		return
	}
	var err error
	if r.PostFormValue(rememberField) != "" {
		err = a.m.Issue(w, r, user)
	} else {
		err = a.m.Forget(w, r)
	}
	if err != nil {
		m.s.Logger().Error("gateway: remember-me", "err", err)
	}
}

// rememberForget deletes this browser's key (logout).
func (m *Method) rememberForget(w http.ResponseWriter, r *http.Request) {
	if m.remember == nil {
		return
	}
	if err := m.remember.m.Forget(w, r); err != nil {
		m.s.Logger().Error("gateway: remember-me logout", "err", err)
	}
}

// disable deletes every remember key of user in the realm and this
// browser's cookie: after "sign out everywhere (else)" or revoking a
// session, no remembered browser may sign straight back in.
func (a *autoLogin) disable(w http.ResponseWriter, r *http.Request, user string) error {
	if err := a.m.Disable(w, r, user); err != nil {
		return fmt.Errorf("gateway: remember-me revoke: %w", err)
	}
	return nil
}

// forget deletes every remember key of user in the realm (an admin's
// revoke, a user removed from the users file).
func (a *autoLogin) forget(ctx context.Context, user string) error {
	_, err := a.m.DeleteUser(ctx, user)
	return err
}

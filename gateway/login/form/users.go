package form

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessiond/sessiond/session"
)

// usersRemoved revokes every session and forgets every remember-me key of
// users removed from the users file (called when the file is reloaded:
// it is watched, and SIGHUP reloads it at once). Users that a backend
// signs in (X-Session-Action: login) are the backend's to manage.
func (m *Method) usersRemoved(removed []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, user := range removed {
		n, err := m.s.RevokeUser(ctx, user)
		ev := session.Event{Time: time.Now(), Type: "user.removed", User: user,
			Attrs: []slog.Attr{slog.String("site", m.s.Name()), slog.Int("revoked", n)}}
		if err != nil {
			// The cookie store may not list sessions: each is signed out at
			// its next request instead (Vouches).
			ev.Attrs = append(ev.Attrs, slog.String("revoke_error", err.Error()))
			if !errors.Is(err, errors.ErrUnsupported) {
				m.s.Logger().Error("gateway: revoking a removed user's sessions", "err", err)
			}
		}
		if err := m.ForgetUser(ctx, nil, nil, user); err != nil {
			m.s.Logger().Error("gateway: removed user", "err", err)
		}
		m.s.Audit(nil, ev)
	}
}

// ForgetUser implements login.Method: every remember-me key of user in
// the site's realm goes (keys are not tied to sessions), and the asking
// browser's cookie with them.
func (m *Method) ForgetUser(ctx context.Context, w http.ResponseWriter, r *http.Request, user string) error {
	a := m.remember
	if a == nil {
		return nil
	}
	if w != nil && r != nil {
		return a.disable(w, r, user)
	}
	return a.forget(ctx, user)
}

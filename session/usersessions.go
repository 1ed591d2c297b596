package session

// A user's active sessions: list them, revoke one, revoke all
// (but the current one). Every operation stays in the Manager's realm.

import (
	"context"
	"slices"
)

// ListUserSessions lists the live sessions of user in this Manager's
// realm, most recent first.
func (m *Manager) ListUserSessions(ctx context.Context, user string) ([]Info, error) {
	recs, err := m.b.userRecords(ctx, user)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	cur := ""
	if s := FromContext(ctx); s != nil {
		cur = s.Ref()
	}
	out := make([]Info, 0, len(recs))
	for _, r := range recs {
		if !m.live(r, now) {
			continue
		}
		info := Info{Ref: r.Ref, Created: r.Created, LastSeen: r.LastSeen, IP: r.IP,
			UserAgent: r.UserAgent, Current: r.Ref == cur}
		if m.cfg.Locator != nil {
			if a, err := parseAddr(r.IP); err == nil {
				info.Area = m.cfg.Locator.Locate(a)
			}
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int { return b.LastSeen.Compare(a.LastSeen) })
	return out, nil
}

// RevokeSession destroys the session ref of user (in this Manager's
// realm). A ref that is not one of the user's sessions in the realm is
// ErrNotFound: users cannot revoke others', nor another site's.
func (m *Manager) RevokeSession(ctx context.Context, user, ref string) error {
	recs, err := m.b.userRecords(ctx, user)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Ref == ref {
			if err := m.b.destroy(ctx, r); err != nil {
				return err
			}
			m.audit(ctx, Event{Type: "session.revoked", Ref: ref, User: user})
			return nil
		}
	}
	return ErrNotFound
}

// RevokeUserSessions destroys every session of user in this Manager's
// realm except the one with ref except ("" for none) and reports how many
// it destroyed (with a cookie codec, which cannot count, 0).
//
// With a cookie codec, except must be the session of the request in ctx
// (FromContext), whose cookie has not gone out yet: every cookie of the
// user issued until now is revoked, and that session gets a new cookie.
func (m *Manager) RevokeUserSessions(ctx context.Context, user, except string) (int, error) {
	return m.b.revokeUser(ctx, user, except)
}

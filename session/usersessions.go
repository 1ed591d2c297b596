package session

// A user's active sessions (SPEC M17): list them, revoke one, revoke all
// (but the current one). Every operation stays in the Manager's realm.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// userRecords lists the records of user in this Manager's realm: a user
// name in another realm is another user (another site's users file).
func (m *Manager) userRecords(ctx context.Context, user string) ([]*Record, error) {
	recs, err := m.cfg.Store.ListUser(ctx, user)
	if err != nil {
		return nil, unavailable("list", err)
	}
	out := recs[:0:0]
	for _, r := range recs {
		if r.User == user && r.Realm == m.cfg.Realm {
			out = append(out, r)
		}
	}
	return out, nil
}

// ListUserSessions lists the live sessions of user in this Manager's
// realm, most recent first.
func (m *Manager) ListUserSessions(ctx context.Context, user string) ([]Info, error) {
	if m.cfg.Store == nil {
		return nil, fmt.Errorf("session: listing needs a server-side store: %w", errors.ErrUnsupported)
	}
	recs, err := m.userRecords(ctx, user)
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
	if m.cfg.Store == nil {
		return fmt.Errorf("session: revoking one session needs a server-side store: %w", errors.ErrUnsupported)
	}
	recs, err := m.userRecords(ctx, user)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Ref == ref {
			if err := m.destroyRecord(ctx, r); err != nil {
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
	if m.cfg.Codec != nil {
		return 0, m.revokeUserCookies(ctx, user, except)
	}
	recs, err := m.userRecords(ctx, user)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		if r.Ref == except {
			continue
		}
		if err := m.destroyRecord(ctx, r); err != nil {
			return n, err
		}
		n++
	}
	m.audit(ctx, Event{Type: "session.revoked_all", User: user,
		Attrs: []slog.Attr{slog.Int("count", n), slog.Bool("kept_current", except != "")}})
	return n, nil
}

// revokeUserCookies is RevokeUserSessions for cookie sessions: the codec's
// per-user "revoked before" time, in this realm.
func (m *Manager) revokeUserCookies(ctx context.Context, user, except string) error {
	now := m.cfg.Now()
	before := now
	var keep *Session
	if except != "" {
		keep = FromContext(ctx)
		if keep == nil || keep.Ref() != except {
			return fmt.Errorf("session: keeping a cookie session other than the request's own while revoking the others: %w", errors.ErrUnsupported)
		}
		keep.mu.Lock()
		defer keep.mu.Unlock()
		if keep.headersSent {
			return fmt.Errorf("%w: the kept session's new cookie can no longer be sent", ErrResponseStarted)
		}
		// Cookies keep whole milliseconds: revoke up to the start of this
		// one, and re-issue the kept session's cookie (regenerated, so it
		// is issued at or after that).
		before = time.UnixMilli(now.UnixMilli())
	}
	if err := m.cfg.Codec.RevokeUser(ctx, m.cfg.Realm, user, before); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return err
		}
		return unavailable("revoke user", err)
	}
	if keep != nil && keep.regen == regenNone {
		keep.regen, keep.regenWhy = regenSoft, "revoke-others"
	}
	m.audit(ctx, Event{Type: "session.revoked_all", User: user,
		Attrs: []slog.Attr{slog.Bool("kept_current", except != ""), slog.String("store", "cookie")}})
	return nil
}

package oidc

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/session"
)

// Events Vouches returns when it signs a user out.
const (
	EventLogout         = "session.oidc_logout"          // a back-channel logout named the session
	EventRefreshRefused = "session.oidc_refresh_refused" // the provider refused the refresh
	EventRefused        = "session.oidc_refused"         // the user is no longer admitted (allowed_*, another user)
	EventProviderDown   = "session.oidc_provider_down"   // unreachable past down_grace
)

// retryDown is how long after a failed call the provider is left alone:
// requests meanwhile count as failed checks without waiting for it.
const retryDown = 15 * time.Second

func data(sess *session.Session, name string) string { return sess.Get(login.DataKey(Name, name)) }

func dataTime(sess *session.Session, name string) time.Time {
	ms, err := strconv.ParseInt(data(sess, name), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Vouches implements login.Method: the user is signed out when a
// back-channel logout named the session, and re-checked with the provider
// every RefreshEvery.
func (m *Method) Vouches(w http.ResponseWriter, r *http.Request, sess *session.Session) (bool, string) {
	since := dataTime(sess, dataSince)
	switch ended, err := m.logouts.ended(r.Context(), data(sess, dataSID), data(sess, dataSub), since); {
	case err != nil:
		// The store answered the session but not this: the session goes
		// on (its next request asks again).
		m.site.Logger().Warn("oidc: reading back-channel logouts", "err", err)
	case ended:
		return false, EventLogout
	}
	now := m.now()
	checked := dataTime(sess, dataChecked)
	if now.Sub(checked) < m.cfg.RefreshEvery {
		return true, ""
	}
	rt := data(sess, dataRefresh)
	if rt == "" {
		return true, "" // nothing to re-check with: the session's own timeouts apply
	}
	// Not bound to the request: a client that goes away must not make the
	// provider look down to every session.
	ctx := context.WithoutCancel(r.Context())
	res := m.refresh.do(sess.Ref(), now, m.cfg.RefreshEvery, func() refreshResult { return m.refreshOnce(ctx, sess, rt) })
	switch {
	case res.event != "":
		return false, res.event
	case res.down:
		if now.Sub(checked) > m.cfg.RefreshEvery+m.cfg.DownGrace {
			return false, EventProviderDown
		}
		return true, ""
	}
	sess.Set(login.DataKey(Name, dataChecked), strconv.FormatInt(now.UnixMilli(), 10))
	if res.refresh != "" && res.refresh != rt {
		sess.Set(login.DataKey(Name, dataRefresh), res.refresh)
	}
	if res.idToken != "" {
		sess.Set(login.DataKey(Name, dataIDToken), res.idToken)
		sess.Set(login.EmailKey, res.who.email)
		sess.Set(login.GroupsKey, strings.Join(res.who.groups, "\n"))
	}
	return true, ""
}

// refreshResult is the outcome of one refresh at the provider.
type refreshResult struct {
	at      time.Time
	event   string // signs out
	down    bool   // the provider did not answer
	refresh string // the refresh token to keep
	idToken string // a new ID token, verified ("": none came)
	who     identity
}

// refreshOnce asks the provider for fresh tokens with sess's refresh
// token and judges the answer.
func (m *Method) refreshOnce(parent context.Context, sess *session.Session, rt string) refreshResult {
	now := m.now()
	res := refreshResult{at: now}
	if m.down.recently(now) {
		res.down = true
		return res
	}
	d, err := m.discover(parent, false)
	if err != nil {
		m.down.failed(now)
		res.down = true
		return res
	}
	ctx, cancel := m.ctx(parent)
	defer cancel()
	tok, err := d.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: now.Add(-time.Minute)}).Token()
	if err != nil {
		if providerUnreachable(err) {
			m.site.Logger().Warn("oidc: provider unreachable at refresh", "issuer", m.cfg.Issuer, "err", err)
			m.down.failed(now)
			res.down = true
			return res
		}
		res.event = EventRefreshRefused
		return res
	}
	res.refresh = cmp.Or(tok.RefreshToken, rt)
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		id, claims, reason := m.verify(ctx, d, tok, "")
		if reason != "" || id.Subject != data(sess, dataSub) {
			res.event = EventRefused
			return res
		}
		who, why := m.identify(claims)
		if why != "" || who.user != sess.User() {
			res.event = EventRefused
			return res
		}
		res.idToken, res.who = raw, who
	}
	return res
}

// SignOut implements login.Method: a session this method signed in goes
// on to the provider's end_session_endpoint with id_token_hint, which
// sends the browser back to OIDCSignedOutPath and from there to next
// (carried in state), when the provider has one.
func (m *Method) SignOut(w http.ResponseWriter, r *http.Request, sess *session.Session, next string) string {
	hint := data(sess, dataIDToken)
	d := m.discovery.Load()
	if hint == "" || d == nil || d.endSession == "" {
		return next
	}
	u, err := url.Parse(d.endSession)
	if err != nil {
		return next
	}
	q := u.Query()
	q.Set("id_token_hint", hint)
	q.Set("client_id", m.cfg.ClientID)
	q.Set("post_logout_redirect_uri", m.site.HTTPSOrigin()+config.OIDCSignedOutPath)
	q.Set("state", login.SafeNext(next))
	u.RawQuery = q.Encode()
	return u.String()
}

// serveSignedOut is the browser's return from the provider's logout: on
// to the page the logout chose (same-site only).
func (m *Method) serveSignedOut(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, login.SafeNext(r.URL.Query().Get("state")), http.StatusSeeOther)
}

// refreshSet runs one refresh per session at a time and lets the
// session's concurrent requests share its result: a provider that rotates
// refresh tokens refuses the second use of one.
type refreshSet struct {
	mu   sync.Mutex
	last map[string]refreshResult
	busy map[string]*sync.Mutex
}

func newRefreshSet() *refreshSet {
	return &refreshSet{last: map[string]refreshResult{}, busy: map[string]*sync.Mutex{}}
}

func (s *refreshSet) do(ref string, now time.Time, fresh time.Duration, fn func() refreshResult) refreshResult {
	s.mu.Lock()
	l, ok := s.busy[ref]
	if !ok {
		l = &sync.Mutex{}
		s.busy[ref] = l
	}
	s.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	s.mu.Lock()
	res, ok := s.last[ref]
	s.mu.Unlock()
	if ok && now.Sub(res.at) < fresh && !res.down {
		return res
	}
	res = fn()
	s.mu.Lock()
	for k, v := range s.last {
		if now.Sub(v.at) > fresh {
			delete(s.last, k)
			delete(s.busy, k)
		}
	}
	s.last[ref] = res
	s.mu.Unlock()
	return res
}

// downTracker remembers when the provider last failed to answer.
type downTracker struct {
	mu   sync.Mutex
	last time.Time
}

func (d *downTracker) failed(now time.Time) { d.mu.Lock(); d.last = now; d.mu.Unlock() }

func (d *downTracker) recently(now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.last.IsZero() && now.Sub(d.last) < retryDown
}

package testoidc

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// EventBackchannelLogout is the member of a logout token's events claim
// (OpenID Connect Back-Channel Logout 1.0).
const EventBackchannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// LogoutToken names what a Back-Channel Logout 1.0 logout token carries
// besides iss, iat, exp, jti and events: at least one of Subject and SID.
type LogoutToken struct {
	// Audience is the client_id; default: the first configured client.
	Audience string
	// Subject is the sub claim (a User.Subject).
	Subject string
	// SID is the sid claim: the provider session the ID token named.
	SID string
}

// LogoutTokenClaims returns the claims of a valid logout token, for a test
// to alter and Sign (for example adding a nonce or dropping events).
func (p *Provider) LogoutTokenClaims(lt LogoutToken) map[string]any {
	if lt.Audience == "" {
		lt.Audience = p.cfg.Clients[0].ID
	}
	now := time.Now()
	c := map[string]any{
		"iss":    p.issuer,
		"aud":    lt.Audience,
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    rand.Text(),
		"events": map[string]any{EventBackchannelLogout: map[string]any{}},
	}
	if lt.Subject != "" {
		c["sub"] = lt.Subject
	}
	if lt.SID != "" {
		c["sid"] = lt.SID
	}
	return c
}

// LogoutToken returns a logout token signed with the provider's key (typ
// logout+jwt).
func (p *Provider) LogoutToken(lt LogoutToken) (string, error) {
	if lt.Subject == "" && lt.SID == "" {
		return "", fmt.Errorf("testoidc: a logout token needs Subject or SID")
	}
	return p.Sign(KeyProvider, "logout+jwt", p.LogoutTokenClaims(lt))
}

// PostLogoutToken delivers a logout token to a back-channel logout URI as
// the specification says (form field logout_token) and returns the HTTP
// status, using Config.BackchannelClient.
func (p *Provider) PostLogoutToken(ctx context.Context, uri, token string) (int, error) {
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("testoidc: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.cfg.BackchannelClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("testoidc: back-channel logout: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Delivery is one back-channel logout the provider sent on its own.
type Delivery struct {
	ClientID, URL, Subject, SID string
	Status                      int // 0 when Err is set
	Err                         error
}

// Deliveries lists the back-channel logouts sent so far, oldest first.
func (p *Provider) Deliveries() []Delivery {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	return slices.Clone(p.store.delivery)
}

// Sessions lists the sids of username's live provider sessions.
func (p *Provider) Sessions(username string) []string {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	u := p.store.userByName(username)
	var sids []string
	for _, ses := range p.store.sessions {
		if u != nil && ses.subject == u.Subject && !ses.ended {
			sids = append(sids, ses.sid)
		}
	}
	slices.Sort(sids)
	return sids
}

// LogoutUser ends every provider session of username, as an administrator
// or the user at another application would: their refresh tokens stop
// working and each client with a BackchannelLogoutURI that got tokens in a
// session receives a logout token (see Deliveries).
func (p *Provider) LogoutUser(ctx context.Context, username string) error {
	sids := p.Sessions(username)
	if len(sids) == 0 {
		return fmt.Errorf("testoidc: %q has no live session", username)
	}
	p.endSessions(ctx, sids)
	return nil
}

// RevokeRefreshTokens revokes username's refresh and access tokens, leaving
// the provider sessions alone: the next refresh is refused with
// invalid_grant. It returns how many refresh tokens it revoked.
func (p *Provider) RevokeRefreshTokens(username string) int {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	u := p.store.userByName(username)
	if u == nil {
		return 0
	}
	return p.store.revokeLocked(func(subject, _ string) bool { return subject == u.Subject })
}

// UpdateUser replaces the user with u.Subject (for example to change its
// groups): later ID tokens, refreshes and userinfo answers carry the new
// claims.
func (p *Provider) UpdateUser(u User) error {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	if _, ok := p.store.users[u.Subject]; !ok || u.Username == "" {
		return fmt.Errorf("testoidc: no user with subject %q (or empty Username)", u.Subject)
	}
	p.store.users[u.Subject] = &u
	return nil
}

// endSessions ends provider sessions: marks them ended, revokes their
// tokens, then sends back-channel logouts to the clients that took part.
func (p *Provider) endSessions(ctx context.Context, sids []string) {
	type target struct{ clientID, uri, subject, sid string }
	var targets []target
	p.store.mu.Lock()
	for _, sid := range sids {
		ses := p.store.sessions[sid]
		if ses == nil || ses.ended {
			continue
		}
		ses.ended = true
		p.store.revokeLocked(func(_, tsid string) bool { return tsid == sid })
		for _, id := range slices.Sorted(maps.Keys(ses.clients)) {
			if c := p.store.clients[id]; c != nil && c.c.BackchannelLogoutURI != "" {
				targets = append(targets, target{id, c.c.BackchannelLogoutURI, ses.subject, sid})
			}
		}
	}
	p.store.mu.Unlock()
	for _, t := range targets {
		d := Delivery{ClientID: t.clientID, URL: t.uri, Subject: t.subject, SID: t.sid}
		tok, err := p.LogoutToken(LogoutToken{Audience: t.clientID, Subject: t.subject, SID: t.sid})
		if err == nil {
			d.Status, err = p.PostLogoutToken(ctx, t.uri, tok)
		}
		d.Err = err
		p.store.mu.Lock()
		p.store.delivery = append(p.store.delivery, d)
		p.store.mu.Unlock()
	}
}

// endSessionKey carries, from the end-session wrapper to
// TerminateSessionFromRequest, what op does not pass: the browser's cookie
// and the response to clear it on.
type endSessionKey struct{}

type endSessionCtx struct {
	w         http.ResponseWriter
	cookieSID string
}

// endSession wraps op's end-session endpoint (RP-initiated logout).
func (p *Provider) endSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ec := &endSessionCtx{w: w}
		if c, err := r.Cookie(SessionCookie); err == nil {
			ec.cookieSID = c.Value
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), endSessionKey{}, ec)))
	})
}

// TerminateSessionFromRequest runs once op has validated an end-session
// request (id_token_hint signature, post_logout_redirect_uri registered):
// it ends the session the hint's sid names and the one the browser's cookie
// names, and clears the cookie.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	var sids []string
	if req.IDTokenHintClaims != nil && req.IDTokenHintClaims.SessionID != "" {
		sids = append(sids, req.IDTokenHintClaims.SessionID)
	}
	if ec, ok := ctx.Value(endSessionKey{}).(*endSessionCtx); ok && ec.cookieSID != "" {
		sids = append(sids, ec.cookieSID)
		http.SetCookie(ec.w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1})
	}
	s.onEnd(ctx, sids)
	return req.RedirectURI, nil
}

package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/pages"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

// pendingKey holds the sign-in in progress (pending) in the browser's
// session, in the secure partition.
const pendingKey = login.InternalPrefix + "oidc.pending"

// Keys of what a signed-in session keeps (login.DataKey(Name, ...)).
const (
	dataIDToken = "id_token"
	dataRefresh = "refresh_token"
	dataChecked = "checked" // unix ms of the last good check at the provider
	dataSince   = "since"   // unix ms of the sign-in
	dataSID     = "sid"
	dataSub     = "sub"
)

// pending is one sign-in between its start and the provider's callback.
type pending struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Expires  int64  `json:"e"` // unix seconds
	// Reauth: the signed-in user proves themselves again (the sessions
	// page); Started is when the provider was asked (unix seconds).
	Reauth  bool  `json:"r,omitempty"`
	Started int64 `json:"t,omitempty"`
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// serveStart begins a sign-in: the provider's authorization URL with a
// fresh state, nonce and PKCE challenge, remembered in the session.
func (m *Method) serveStart(w http.ResponseWriter, r *http.Request) {
	if !m.site.IsSecure(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, m.site.HTTPSOrigin()+r.URL.RequestURI(), http.StatusFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		m.site.ErrorPage(w, http.StatusMethodNotAllowed, "Start signing in from the sign-in page.")
		return
	}
	d, err := m.discover(r.Context(), true)
	if err != nil {
		m.providerDown(w, r, err)
		return
	}
	sess := session.FromContext(r.Context())
	if sess == nil {
		m.site.ErrorPage(w, http.StatusServiceUnavailable, "Signing in needs a session, which this page has none of.")
		return
	}
	now := m.now()
	p := pending{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(),
		Next: login.SafeNext(r.URL.Query().Get("next")), Expires: now.Add(StateLifetime).Unix()}
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier)}
	if r.URL.Query().Get("reauth") == "1" && sess.User() != "" && data(sess, dataSub) != "" {
		// The provider must ask for the user's credentials now, whatever
		// session it keeps, and say when it did (auth_time).
		p.Reauth, p.Started = true, now.Unix()
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0"))
	}
	raw, _ := json.Marshal(p)
	sess.Set(pendingKey, string(raw))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, d.oauth.AuthCodeURL(p.State, opts...), http.StatusFound)
}

// providerDown answers a sign-in the provider could not serve: 503, and
// nothing signed in.
func (m *Method) providerDown(w http.ResponseWriter, r *http.Request, err error) {
	m.site.Logger().Warn("oidc: provider unreachable at sign-in", "issuer", m.cfg.Issuer, "err", err)
	m.site.Count("failed")
	m.site.Audit(r, session.Event{Type: "login.provider_down", Attrs: []slog.Attr{slog.String("method", Name)}})
	w.Header().Set("Retry-After", "30")
	m.site.ErrorPage(w, http.StatusServiceUnavailable,
		fmt.Sprintf("Signing in with %s is not possible right now: the provider cannot be reached. You are not signed in. Please try again in a few minutes.", m.cfg.Name))
}

// refuse audits a refused callback and answers with the login page.
func (m *Method) refuse(w http.ResponseWriter, r *http.Request, code int, next, reason, msg string) {
	m.site.Count("failed")
	m.site.Audit(r, session.Event{Type: "login.failed", Attrs: []slog.Attr{
		slog.String("method", Name), slog.String("reason", reason)}})
	m.site.LoginPage(w, r, code, login.Prompt{Next: next, Error: msg})
}

// takePending removes the session's sign-in in progress and returns it if
// state matches, it has not expired and was never used before.
func (m *Method) takePending(sess *session.Session, state string) (pending, string) {
	var p pending
	raw := ""
	if sess != nil {
		raw = sess.Get(pendingKey)
		sess.Delete(pendingKey)
	}
	switch {
	case raw == "":
		return p, "no_sign_in_started"
	case json.Unmarshal([]byte(raw), &p) != nil:
		return p, "bad_pending"
	case state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(p.State)) != 1:
		return p, "wrong_state"
	case m.now().Unix() > p.Expires:
		return p, "state_expired"
	}
	h := sha256.Sum256([]byte(m.cfg.Issuer + "\x00" + p.State))
	switch first, err := m.state.Claim(context.Background(), "oidc-state:"+base64.RawURLEncoding.EncodeToString(h[:]), time.Unix(p.Expires, 0)); {
	case err != nil:
		return p, "store_unavailable"
	case !first:
		return p, "state_replayed"
	}
	return p, ""
}

// serveCallback finishes a sign-in: the provider sent the browser back
// with a code (or an error).
func (m *Method) serveCallback(w http.ResponseWriter, r *http.Request) {
	if !m.site.IsSecure(r) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		m.site.Count("failed")
		m.site.Audit(r, session.Event{Type: "login.failed", Attrs: []slog.Attr{slog.String("method", Name), slog.String("reason", "insecure_or_not_get")}})
		m.site.ErrorPage(w, http.StatusBadRequest, "This sign-in link is not valid here. Start again from the sign-in page.")
		return
	}
	q := r.URL.Query()
	sess := session.FromContext(r.Context())
	p, bad := m.takePending(sess, q.Get("state"))
	if bad != "" {
		m.refuse(w, r, http.StatusBadRequest, "/", bad, "That sign-in could not be finished (it expired, was already used or was started elsewhere). Please sign in again.")
		return
	}
	if e := q.Get("error"); e != "" {
		m.refuse(w, r, http.StatusUnauthorized, p.Next, "provider_error:"+clip(e), "The provider did not sign you in.")
		return
	}
	d, err := m.discover(r.Context(), false)
	if err != nil {
		m.providerDown(w, r, err)
		return
	}
	ctx, cancel := m.ctx(r.Context())
	defer cancel()
	tok, err := d.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.Verifier))
	if err != nil {
		if providerUnreachable(err) {
			m.providerDown(w, r, err)
			return
		}
		m.refuse(w, r, http.StatusUnauthorized, p.Next, "code_refused", "The provider refused this sign-in. Please sign in again.")
		return
	}
	id, claims, reason := m.verify(ctx, d, tok, p.Nonce)
	if reason != "" {
		m.refuse(w, r, http.StatusUnauthorized, p.Next, reason, "The provider's answer could not be verified. You are not signed in.")
		return
	}
	who, why := m.identify(claims)
	if why != "" {
		m.site.Count("failed")
		m.site.Audit(r, session.Event{Type: "login.refused", User: clip(who.user), Attrs: []slog.Attr{
			slog.String("method", Name), slog.String("reason", why)}})
		m.site.Page(w, http.StatusForbidden, pages.RefusedPage{Site: m.site.Name(), User: who.user, Provider: m.cfg.Name,
			Reason: refusalText(why, m.cfg.Name)})
		return
	}
	event := "login.ok"
	if p.Reauth {
		if why := checkReauth(sess.User(), data(sess, dataSub), p, id.Subject, claims, who); why != "" {
			m.site.Audit(r, session.Event{Type: "reauth.failed", User: sess.User(), Ref: sess.Ref(), Attrs: []slog.Attr{
				slog.String("method", Name), slog.String("reason", why)}})
			m.site.ErrorPage(w, http.StatusUnauthorized,
				fmt.Sprintf("%s did not confirm just now that it is you, so nothing was changed. You are still signed in; try again from your sessions page.", m.cfg.Name))
			return
		}
		event = "reauth.ok"
	}
	now := m.now()
	data := map[string]string{
		dataIDToken: tok.Extra("id_token").(string),
		dataChecked: strconv.FormatInt(now.UnixMilli(), 10),
		dataSince:   strconv.FormatInt(now.UnixMilli(), 10),
		dataSub:     id.Subject,
		dataSID:     who.sid,
	}
	if tok.RefreshToken != "" {
		data[dataRefresh] = tok.RefreshToken
	}
	if err := m.site.SignIn(w, r, login.SignIn{User: who.user, Method: Name, Proven: true,
		Email: who.email, Groups: who.groups, Data: data}); err != nil {
		m.site.Logger().Error("oidc: sign-in", "err", err)
		m.site.ErrorPage(w, http.StatusInternalServerError, "Sign-in failed. Please try again.")
		return
	}
	m.signins.add(who.sid, id.Subject, who.user, sess.Ref(), now, now.Add(keepEnded))
	m.site.Count("ok")
	m.site.Audit(r, session.Event{Type: event, User: who.user, Ref: sess.Ref(), Attrs: []slog.Attr{slog.String("method", Name)}})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.Next, http.StatusSeeOther)
}

// authTimeSkew is how much earlier than the start of a re-authentication
// the provider's auth_time may be (the two clocks differ).
const authTimeSkew = 30 * time.Second

// checkReauth judges the provider's answer (the ID token's subject and
// claims, who they name) to a re-authentication of the session's user and
// sub: the same subject and user, proven at the provider since it was
// asked (auth_time). It returns "" or the reason for refusing.
func checkReauth(user, sub string, p pending, subject string, claims map[string]any, who identity) string {
	at, _ := claims["auth_time"].(float64)
	switch {
	case user == "" || sub == "":
		return "not_signed_in"
	case subject != sub || who.user != user:
		return "another_user"
	case at == 0:
		return "no_auth_time"
	case time.Unix(int64(at), 0).Before(time.Unix(p.Started, 0).Add(-authTimeSkew)):
		return "stale_auth_time"
	}
	return ""
}

// ReauthURL implements login.ReauthRedirector: the sign-in at the
// provider with prompt=login and max_age=0, for the signed-in user, back
// to next.
func (m *Method) ReauthURL(next string) string {
	return config.OIDCLoginPath + "?reauth=1&next=" + url.QueryEscape(login.SafeNext(next))
}

// verify checks the ID token of a token response: signature, issuer,
// audience, expiry (go-oidc) and, when nonce is set, the nonce. reason
// is "" when it holds.
func (m *Method) verify(ctx context.Context, d *discovered, tok *oauth2.Token, nonce string) (*gooidc.IDToken, map[string]any, string) {
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return nil, nil, "no_id_token"
	}
	id, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, nil, "id_token:" + verifyReason(err)
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(nonce)) != 1 {
		return nil, nil, "id_token:wrong_nonce"
	}
	var claims map[string]any
	if err := id.Claims(&claims); err != nil {
		return nil, nil, "id_token:claims"
	}
	return id, claims, ""
}

// verifyReason names why go-oidc refused a token, for the audit log.
func verifyReason(err error) string {
	var exp *gooidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return "expired"
	case strings.Contains(msg, "issued by a different provider"):
		return "wrong_issuer"
	case strings.Contains(msg, "audience"):
		return "wrong_audience"
	case strings.Contains(msg, "signature") || strings.Contains(msg, "algorithm") || strings.Contains(msg, "malformed"):
		return "bad_signature"
	}
	return "invalid"
}

// identity is who an ID token names.
type identity struct {
	user, email, sid string
	groups           []string
}

// identify reads the user, email and groups from claims and applies the
// allowed_* lists; why is "" when the user is admitted, else the reason
// (user_claim_missing, email_not_allowed, domain_not_allowed,
// group_not_allowed).
func (m *Method) identify(claims map[string]any) (identity, string) {
	var who identity
	who.user, _ = claims[m.cfg.UserClaim].(string)
	who.sid, _ = claims["sid"].(string)
	email, _ := claims["email"].(string)
	verified, _ := claims["email_verified"].(bool)
	if email != "" && verified && headerSafe(email) && !strings.Contains(email, ",") {
		who.email = email
	}
	if m.cfg.GroupsClaim != "" {
		who.groups = stringList(claims[m.cfg.GroupsClaim])
	}
	switch {
	case who.user == "" || !wire.ValidUser(who.user):
		return who, "user_claim_missing"
	case len(m.cfg.AllowedEmails) > 0 && !slices.Contains(m.cfg.AllowedEmails, strings.ToLower(who.email)):
		return who, "email_not_allowed"
	case len(m.cfg.AllowedDomains) > 0 && !slices.Contains(m.cfg.AllowedDomains, domainOf(who.email)):
		return who, "domain_not_allowed"
	case len(m.cfg.AllowedGroups) > 0 && !slices.ContainsFunc(who.groups, func(g string) bool { return slices.Contains(m.cfg.AllowedGroups, g) }):
		return who, "group_not_allowed"
	}
	return who, ""
}

func domainOf(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(email[at+1:])
}

// stringList reads a claim that is a list of strings (or one string).
func stringList(v any) []string {
	switch t := v.(type) {
	case string:
		return stringList([]any{t})
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok && s != "" && headerSafe(s) && !strings.Contains(s, ",") {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// headerSafe reports whether s can travel in a header value as it is:
// no control characters (a provider's claim is not trusted to be clean).
func headerSafe(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// refusalText tells the user why the provider's account is not admitted.
func refusalText(why, provider string) string {
	switch why {
	case "email_not_allowed":
		return "Your " + provider + " account's email address is not allowed to sign in to this site."
	case "domain_not_allowed":
		return "Only accounts with an allowed email domain may sign in to this site; yours (as " + provider + " says) is not one of them."
	case "group_not_allowed":
		return "Your " + provider + " account is not in a group that may sign in to this site."
	}
	return "Your " + provider + " account gives no user name this site can use."
}

// clip bounds a value from the client or provider for the audit log.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// providerUnreachable tells a provider that did not answer (network
// error, timeout, 5xx) from one that refused (4xx).
func providerUnreachable(err error) bool {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Response == nil || re.Response.StatusCode >= 500
	}
	return true
}

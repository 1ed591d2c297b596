package gateway

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/csrf"
	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/htpasswd"
	"github.com/sessiond/sessiond/gateway/inspect"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/login/form"
	"github.com/sessiond/sessiond/gateway/login/oidc"
	"github.com/sessiond/sessiond/gateway/pages"
	"github.com/sessiond/sessiond/internal/redirect"
	"github.com/sessiond/sessiond/internal/tick"
	"github.com/sessiond/sessiond/session"
)

// newMethods builds the site's login methods from its configuration, in
// the order the login page offers them. A new login method is one line
// here.
func (s *site) newMethods(g *Gateway) ([]login.Method, error) {
	sc := s.cfg
	if sc.Session.Mode == config.ModeOff || s.m == nil {
		return nil, nil
	}
	var ms []login.Method
	add := func(m login.Method, err error) error {
		if err == nil {
			ms = append(ms, m)
		}
		return err
	}
	if sc.Auth.Htpasswd != "" {
		if err := add(form.New(s.formConfig(g, nil), loginSite{s})); err != nil {
			return nil, err
		}
	}
	if o := sc.Auth.OIDC; o != nil {
		m, err := oidc.New(oidc.Config{OIDC: o, Site: loginSite{s}, State: g.claims})
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// useMethods makes ms the site's login methods: their routes (the first
// method's wins a path) and cookies.
func (s *site) useMethods(ms ...login.Method) {
	s.methods, s.routes, s.loginCookie = ms, map[string]login.Route{}, nil
	for _, m := range ms {
		s.loginCookie = append(s.loginCookie, m.Cookies()...)
		for _, rt := range m.Routes() {
			if _, dup := s.routes[rt.Path]; !dup {
				s.routes[rt.Path] = rt
			}
		}
	}
	s.stripNames = append(s.stripNames, s.loginCookie...)
}

// formConfig configures the site's form login with users (nil: the
// configured file).
func (s *site) formConfig(g *Gateway, users *htpasswd.File) form.Config {
	return form.Config{Auth: s.cfg.Auth, Users: users, DeviceKey: g.deviceKey, Claims: g.claims, RememberStore: g.rememberStore,
		Auditor: g.auditor, TrustedProxies: g.trusted, MaxClients: g.maxClients}
}

// loginSite is what the site shows its login methods (login.Site).
type loginSite struct{ s *site }

func (l loginSite) Name() string         { return l.s.cfg.Name }
func (l loginSite) Logger() *slog.Logger { return l.s.log }
func (l loginSite) Realm() string        { return l.s.m.Config().Realm }
func (l loginSite) Audit(r *http.Request, e session.Event) {
	if r == nil {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		l.s.auditor.Audit(context.Background(), e)
		return
	}
	l.s.audit(r, e)
}
func (l loginSite) Count(result string)           { l.s.metrics.Login(result) }
func (l loginSite) IsSecure(r *http.Request) bool { return l.s.isSecure(r) }
func (l loginSite) HTTPSOrigin() string           { return l.s.httpsOrigin }
func (l loginSite) ClientIP(r *http.Request) netip.Addr {
	a, _ := netip.ParseAddr(clientAddr(r))
	return a
}
func (l loginSite) Page(w http.ResponseWriter, code int, p pages.Page) { l.s.pages.render(w, code, p) }
func (l loginSite) ErrorPage(w http.ResponseWriter, code int, msg string) {
	l.s.pages.error(w, code, msg)
}
func (l loginSite) RevokeUser(ctx context.Context, user string) (int, error) {
	return l.s.m.RevokeUserSessions(ctx, user, "")
}

func (l loginSite) RevokeSession(ctx context.Context, user, ref string) error {
	return l.s.m.RevokeSession(ctx, user, ref)
}

// LoginPage renders the site's one login page with every method's offer.
func (l loginSite) LoginPage(w http.ResponseWriter, r *http.Request, code int, p login.Prompt) {
	s := l.s
	// The token first: it may start the session, whose cookie must go out
	// with these headers.
	page := pages.LoginPage{Site: s.cfg.Name, CSRF: pages.CSRF{Field: csrfField, Token: csrf.Token(r)},
		Next: p.Next, User: p.User, Error: p.Error}
	if sess := session.FromContext(r.Context()); sess != nil && sess.IsNew() {
		s.insp.LogEvent(sess, "created") // the form's CSRF token starts the session
	}
	for _, m := range s.methods {
		o := m.Offer(r, p.Next)
		if o.Password && !page.Password {
			page.Password, page.Action, page.Remember = true, o.Action, o.Remember
		}
		page.Providers = append(page.Providers, o.Buttons...)
	}
	page.Why = s.insp.Why(r)
	s.pages.render(w, code, page)
}

// SignIn signs a user that a method vouches for into the request's
// session (login.Site).
func (l loginSite) SignIn(w http.ResponseWriter, r *http.Request, in login.SignIn) error {
	s := l.s
	sess := session.FromContext(r.Context())
	if sess == nil {
		return errors.New("gateway: sign-in without a session")
	}
	if err := sess.Login(in.User); err != nil {
		return err
	}
	markAuth(sess, in.Method, in.Proven)
	if in.Email != "" {
		sess.Set(login.EmailKey, in.Email)
	}
	if len(in.Groups) > 0 {
		sess.Set(login.GroupsKey, strings.Join(in.Groups, "\n"))
	}
	for k, v := range in.Data {
		sess.Set(login.DataKey(in.Method, k), v)
	}
	s.csrf.Rotate(r) // a fresh token secret for the new identity
	s.insp.LogEvent(sess, "login")
	return nil
}

// Who vouched for a session's user, and when its credentials were last
// proven: kept in the session's internal keys (never shown to backends).
const (
	authAtKey  = login.InternalPrefix + "auth_at"  // unix milliseconds of the last proof
	authViaKey = login.InternalPrefix + "auth_via" // a login method's Name, or authViaBackend
	// authViaBackend: the backend signed the user in (X-Session-Action:
	// login); its users are the backend's to manage.
	authViaBackend = "backend"
)

// markAuth records that sess's user was just signed in by via (a login
// method or the backend), and if proven, that their credentials were
// proven now.
func markAuth(sess *session.Session, via string, proven bool) {
	sess.Set(authViaKey, via)
	if proven {
		sess.Set(authAtKey, strconv.FormatInt(time.Now().UnixMilli(), 10))
	}
}

// method is the login method that vouches for sess's user (nil: none, or
// the backend).
func (s *site) method(sess *session.Session) login.Method {
	via := sess.Get(authViaKey)
	for _, m := range s.methods {
		if m.Name() == via {
			return m
		}
	}
	return nil
}

// vouch asks the method that signed sess in whether it still vouches for
// its user, signing the user out when it does not (the request goes on
// anonymously); a session without a user is offered to every method that
// may recognize the client.
func (s *site) vouch(w http.ResponseWriter, r *http.Request, sess *session.Session) {
	if sess == nil || len(s.methods) == 0 {
		return
	}
	if user := sess.User(); user != "" {
		m := s.method(sess)
		if m == nil {
			return
		}
		if ok, event := m.Vouches(w, r, sess); !ok {
			ref := sess.Ref()
			if err := sess.Logout(); err != nil {
				s.log.Error("gateway: signing out a user no longer vouched for", "err", err)
			}
			s.audit(r, session.Event{Type: event, User: user, Ref: ref})
		}
	}
	for _, m := range s.methods {
		if sess.User() != "" {
			return
		}
		m.Recognize(w, r, sess)
	}
}

// reauthNeeded reports whether sess's credential proof is older than the
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

// serveLogin serves the login methods' routes, the site's login page and
// its logout; it reports false for any other path.
func (s *site) serveLogin(w http.ResponseWriter, r *http.Request) bool {
	if len(s.methods) == 0 {
		return false
	}
	p := r.URL.Path
	rt, ok := s.routes[p]
	switch {
	case p == s.cfg.Auth.LogoutPath:
		rt = login.Route{Handler: http.HandlerFunc(s.serveLogout), Form: true}
	case !ok && p == s.cfg.Auth.LoginPath:
		rt = login.Route{Handler: http.HandlerFunc(s.serveLoginPage), Form: true}
	case !ok:
		return false
	}
	switch {
	case !rt.Form && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		// Unchecked (safe), but able to render the login page's token.
		s.csrf.Handler(rt.Handler).ServeHTTP(w, r)
	case !rt.Form:
		rt.Handler.ServeHTTP(w, r)
	case !s.isSecure(r):
		s.insecure(w, r) // before anything reads a body sent in the clear
	default:
		s.csrf.Handler(rt.Handler).ServeHTTP(w, r)
	}
	return true
}

// serveLoginPage is the login page of a site whose methods all sign in
// elsewhere (no password form).
func (s *site) serveLoginPage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		s.pages.error(w, http.StatusMethodNotAllowed, "Sign in with a button on this page.")
		return
	}
	loginSite{s}.LoginPage(w, r, http.StatusOK, login.Prompt{Next: login.SafeNext(r.URL.Query().Get("next"))})
}

// insecure answers a login or logout that arrived over plain HTTP: GET is
// sent to HTTPS; a POST (credentials!) is refused and never processed.
func (s *site) insecure(w http.ResponseWriter, r *http.Request) {
	target := s.httpsOrigin + r.URL.RequestURI()
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	s.audit(r, session.Event{Type: "login.refused_http"})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	insecurePage.Execute(w, s.httpsOrigin+s.cfg.Auth.LoginPath)
}

var insecurePage = template.Must(template.New("insecure").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Use the secure sign-in page</title></head><body><p><a href="/" id="home">← Back to the site</a></p><h1>Sign in over HTTPS</h1>
<p>Your password was sent over an unencrypted connection, so it was not checked. Change it if this network is not yours.</p>
<p><a href="{{.}}">Go to the secure sign-in page</a></p></body></html>
`))

func (s *site) serveLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.pages.error(w, http.StatusMethodNotAllowed, "Sign out with the button on your account page (POST).")
		return
	}
	sess := session.FromContext(r.Context())
	user := sess.User()
	target := "/"
	if s.cfg.Inspect {
		// The inspector's notes travel in the URL (inspect reads
		// this one back).
		target = "/?" + inspect.SignedOutQuery
	}
	target = s.signOut(w, r, sess, target)
	if err := sess.Logout(); err != nil {
		s.log.Error("gateway: logout", "err", err)
		s.pages.error(w, http.StatusServiceUnavailable, "Sign-out failed. Please try again.")
		return
	}
	s.audit(r, session.Event{Type: "logout", User: user})
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// signOut runs every login method's sign-out for sess before it ends,
// and returns where the browser goes then.
func (s *site) signOut(w http.ResponseWriter, r *http.Request, sess *session.Session, next string) string {
	for _, m := range s.methods {
		next = m.SignOut(w, r, sess, next)
	}
	return next
}

// forgetUser tells every login method that all of user's sessions were
// revoked (w and r: the browser that asked, or nil).
func (s *site) forgetUser(ctx context.Context, w http.ResponseWriter, r *http.Request, user string) error {
	var errs []error
	for _, m := range s.methods {
		if err := m.ForgetUser(ctx, w, r, user); err != nil {
			errs = append(errs, fmt.Errorf("%s login: %w", m.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// forgetUser tells the login methods of every site in realm that all of
// user's sessions were revoked (the admin API).
func (g *Gateway) forgetUser(ctx context.Context, realm, user string) error {
	var errs []error
	for _, s := range g.order {
		if s.m != nil && s.m.Config().Realm == realm {
			errs = append(errs, s.forgetUser(ctx, nil, nil, user))
		}
	}
	return errors.Join(errs...)
}

type originalKey struct{}

// keepOriginal keeps, in r's context, a copy of r that still holds the
// login methods' cookies the backend will not see, for a backend's
// logout (originalRequest).
func (s *site) keepOriginal(r *http.Request) *http.Request {
	for _, c := range s.loginCookie {
		if len(r.CookiesNamed(c)) > 0 {
			orig := r.Clone(r.Context())
			return r.WithContext(context.WithValue(r.Context(), originalKey{}, orig))
		}
	}
	return r
}

// originalRequest is the request as the client sent it (keepOriginal).
func originalRequest(r *http.Request) *http.Request {
	if orig, ok := r.Context().Value(originalKey{}).(*http.Request); ok {
		return orig
	}
	return r
}

// requireLogin sends the client to the login page (on HTTPS) with a
// validated next=.
func (s *site) requireLogin(w http.ResponseWriter, r *http.Request) {
	if len(s.methods) == 0 {
		s.pages.error(w, http.StatusUnauthorized, "Login required.")
		return
	}
	inspect.SetWhy(r, "auth") // noted even over HTTPS: the login page says why
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.loginURL(r.URL.RequestURI()), redirect.Status(r.Method, false))
}

// loginURL is the site's login page (on HTTPS) that returns to next; the
// page itself judges next (login.SafeNext).
func (s *site) loginURL(next string) string {
	return s.httpsOrigin + s.cfg.Auth.LoginPath + "?next=" + url.QueryEscape(next)
}

// ReloadUsers re-reads every site's users files now if they changed
// (SIGHUP), revoking the sessions of removed users.
func (g *Gateway) ReloadUsers() {
	for _, s := range g.order {
		for _, m := range s.methods {
			if rl, ok := m.(login.Reloader); ok {
				if err := rl.Reload(); err != nil {
					s.log.Error("gateway: users file reload failed; the previous users stay in force", "err", err)
				}
			}
		}
	}
}

// watchUsers looks for changed users files every interval until ctx ends.
func (g *Gateway) watchUsers(ctx context.Context, every time.Duration) {
	tick.Every(ctx, every, func(time.Time) { g.ReloadUsers() })
}

package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sessiond/sessiond/csrf"
	loginpkg "github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/login/oidc"
	"github.com/sessiond/sessiond/session"
)

// methodKey records which loginpkg.Method signed a session's user in.
const methodKey = loginpkg.InternalPrefix + "login.method"

// methodSite is a site as its login methods see it (loginpkg.Site).
type methodSite struct{ s *site }

var _ loginpkg.Site = methodSite{}

func (m methodSite) Name() string                  { return m.s.cfg.Name }
func (m methodSite) Logger() *slog.Logger          { return m.s.log }
func (m methodSite) Realm() string                 { return m.s.cfg.Realm }
func (m methodSite) Count(result string)           { m.s.metrics.login(result) }
func (m methodSite) IsSecure(r *http.Request) bool { return m.s.isSecure(r) }
func (m methodSite) HTTPSOrigin() string           { return m.s.httpsOrigin }
func (m methodSite) ClientIP(r *http.Request) netip.Addr {
	a, _ := netip.ParseAddr(clientAddr(r))
	return a
}
func (m methodSite) ErrorPage(w http.ResponseWriter, code int, msg string) {
	errorPage(w, m.s.cfg.Name, code, msg)
}

func (m methodSite) Audit(r *http.Request, e session.Event) {
	if r == nil {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		m.s.auditor.Audit(context.Background(), e)
		return
	}
	m.s.audit(r, e)
}

func (m methodSite) LoginPage(w http.ResponseWriter, r *http.Request, code int, p loginpkg.Prompt) {
	m.s.renderLoginPage(w, r, code, p)
}

func (m methodSite) RevokeUser(ctx context.Context, user string) (int, error) {
	return m.s.m.RevokeUserSessions(ctx, user, "")
}

// SignIn signs in.User in with a hard regeneration, a fresh CSRF secret
// and the record of the method, identity and data.
func (m methodSite) SignIn(w http.ResponseWriter, r *http.Request, in loginpkg.SignIn) error {
	sess := session.FromContext(r.Context())
	if err := sess.Login(in.User); err != nil {
		return err
	}
	if in.Proven {
		markAuth(sess, in.Method, time.Now())
	} else {
		sess.Set(authViaKey, in.Method)
	}
	sess.Set(methodKey, in.Method)
	sess.Set(loginpkg.EmailKey, in.Email)
	sess.Set(loginpkg.GroupsKey, strings.Join(in.Groups, "\n"))
	for k, v := range in.Data {
		sess.Set(loginpkg.DataKey(in.Method, k), v)
	}
	m.s.csrf.Rotate(r)
	m.s.logEvent(sess, "login")
	return nil
}

// newMethods builds the site's login methods beside the form login.
func (s *site) newMethods() error {
	if o := s.cfg.Auth.OIDC; o != nil && s.m != nil {
		m, err := oidc.New(oidc.Config{OIDC: o, Site: methodSite{s}})
		if err != nil {
			return err
		}
		s.methods = append(s.methods, m)
	}
	return nil
}

// serveMethods serves the methods' routes and asks the method that signed
// the session in whether it still vouches for its user; it reports
// whether it answered the request.
func (s *site) serveMethods(w http.ResponseWriter, r *http.Request) bool {
	sess := session.FromContext(r.Context())
	if sess != nil && sess.User() != "" {
		if name := sess.Get(methodKey); name != "" {
			for _, m := range s.methods {
				if m.Name() != name {
					continue
				}
				if ok, event := m.Vouches(w, r, sess); !ok {
					user, ref := sess.User(), sess.Ref()
					if err := sess.Logout(); err != nil {
						s.log.Error("gateway: signing out a user the login method no longer vouches for", "err", err)
					}
					s.audit(r, session.Event{Type: event, User: user, Ref: ref})
				}
			}
		}
	}
	for _, m := range s.methods {
		for _, rt := range m.Routes() {
			if r.URL.Path != rt.Path {
				continue
			}
			h := rt.Handler
			if rt.Form || r.Method == http.MethodGet || r.Method == http.MethodHead {
				// Checked when a form, and able to render the login page's
				// token on every GET; a provider's POST (back-channel
				// logout) carries no token.
				h = s.csrf.Handler(h)
			}
			h.ServeHTTP(w, r)
			return true
		}
	}
	if s.login == nil && len(s.methods) > 0 {
		switch r.URL.Path {
		case s.cfg.Auth.LoginPath:
			s.serveMethodLoginPage(w, r)
			return true
		case s.cfg.Auth.LogoutPath:
			s.csrf.Handler(http.HandlerFunc(s.serveMethodLogout)).ServeHTTP(w, r)
			return true
		}
	}
	return false
}

// renderLoginPage answers with the site's login page: the form login's
// when there is one, else the methods' buttons.
func (s *site) renderLoginPage(w http.ResponseWriter, r *http.Request, code int, p loginpkg.Prompt) {
	if s.login != nil {
		s.login.render(w, r, code, p.Next, p.User, p.Error)
		return
	}
	s.writeLoginPage(w, r, code, loginpkg.Page{Site: s.cfg.Name, Token: csrf.Token(r), Next: p.Next, User: p.User, Error: p.Error})
}

// writeLoginPage adds every method's offer and why the client was sent
// here to page, and answers with it.
func (s *site) writeLoginPage(w http.ResponseWriter, r *http.Request, code int, page loginpkg.Page) {
	for _, m := range s.methods {
		page.Add(m.Offer(r, page.Next))
	}
	if n := noteFrom(r.Context()); n != nil {
		page.Why = s.explain(n.in)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(code)
	if err := loginpkg.RenderPage(w, page); err != nil {
		s.log.Error("gateway: login page", "err", err)
	}
}

// serveMethodLoginPage is the login page of a site without form login.
func (s *site) serveMethodLoginPage(w http.ResponseWriter, r *http.Request) {
	if !s.isSecure(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, s.httpsOrigin+r.URL.RequestURI(), http.StatusFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		errorPage(w, s.cfg.Name, http.StatusMethodNotAllowed, "Sign in with a button on this page.")
		return
	}
	s.renderLoginPage(w, r, http.StatusOK, loginpkg.Prompt{Next: loginpkg.SafeNext(r.URL.Query().Get("next"))})
}

// serveMethodLogout signs out on a site without form login.
func (s *site) serveMethodLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !s.isSecure(r) {
		w.Header().Set("Allow", "POST")
		errorPage(w, s.cfg.Name, http.StatusMethodNotAllowed, "Sign out with the button on your account page (POST over HTTPS).")
		return
	}
	sess := session.FromContext(r.Context())
	user := sess.User()
	target := s.signOutTarget(w, r, sess, "/")
	if err := sess.Logout(); err != nil {
		s.log.Error("gateway: logout", "err", err)
		errorPage(w, s.cfg.Name, http.StatusServiceUnavailable, "Sign-out failed. Please try again.")
		return
	}
	s.audit(r, session.Event{Type: "logout", User: user})
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// signOutTarget lets the method that signed sess in clear what it keeps
// and choose where the browser goes after the logout.
func (s *site) signOutTarget(w http.ResponseWriter, r *http.Request, sess *session.Session, next string) string {
	name := sess.Get(methodKey)
	for _, m := range s.methods {
		if m.Name() == name {
			return m.SignOut(w, r, sess, next)
		}
	}
	return next
}

// setMethodIdentity adds the signed-in user's email and groups, as a
// login method vouched for them, to dst.
func (s *site) setMethodIdentity(dst http.Header, sess *session.Session) {
	if sess.User() == "" {
		return
	}
	if e := sess.Get(loginpkg.EmailKey); e != "" {
		dst.Set(s.headers.Email, e)
	}
	if g := sess.Get(loginpkg.GroupsKey); g != "" {
		dst.Set(s.headers.Groups, strings.ReplaceAll(g, "\n", ","))
	}
}

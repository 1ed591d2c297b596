// Package userpage is the user's own page of active sessions at the
// gateway: list them, revoke one, revoke all others (after proving the
// password again when it is old).
package userpage

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sessiond/sessiond/csrf"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/pages"
	"github.com/sessiond/sessiond/internal/redirect"
	"github.com/sessiond/sessiond/session"
)

// Path is where the page is served, under every site.
const Path = "/.sessiond/sessions"

// Config is what the page needs from its site.
type Config struct {
	Site    login.Site
	Manager *session.Manager
	// RequireLogin sends a signed-out visitor to the sign-in page.
	RequireLogin func(w http.ResponseWriter, r *http.Request)
	// Forget tells the login methods that user's other sessions were
	// revoked from this browser.
	Forget func(ctx context.Context, w http.ResponseWriter, r *http.Request, user string) error
	// ReauthNeeded reports whether the password must be proven again.
	ReauthNeeded func(sess *session.Session, now time.Time) bool
	// Method is the login method that signed sess in (nil if none).
	Method func(sess *session.Session) login.Method
	// MarkAuth records a proven password on sess.
	MarkAuth func(sess *session.Session, via string, proven bool)
	// CSRFField is the form field of the page's CSRF token.
	CSRFField string
}

// Page serves Path and below. Wrap it in the site's CSRF handler.
type Page struct{ c Config }

// New returns the page of a site.
func New(c Config) *Page { return &Page{c: c} }

// browserName turns a User-Agent into "Firefox 128 on Windows"; the full
// string stays in the cell's title.
func browserName(ua string) string {
	if ua == "" {
		return "unknown"
	}
	name := ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Headless Chrome"},
		{"Chrome/", "Chrome"}, {"Version/", "Safari"}, {"curl/", "curl"},
	} {
		if _, rest, ok := strings.Cut(ua, b.token); ok {
			v, _, _ := strings.Cut(rest, ".")
			v, _, _ = strings.Cut(v, " ")
			name = b.name + " " + v
			break
		}
	}
	if name == "" {
		name, _, _ = strings.Cut(ua, " ")
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return name + " on " + o.name
		}
	}
	return name
}

// ServeHTTP answers the page and its actions.
func (s *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.c.Site.IsSecure(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, s.c.Site.HTTPSOrigin()+r.URL.RequestURI(), redirect.Status(r.Method, false))
		return
	}
	sess := session.FromContext(r.Context())
	user := sess.User()
	if user == "" {
		s.c.RequireLogin(w, r)
		return
	}
	ctx := r.Context()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == Path:
		s.renderSessions(w, r, sess, http.StatusOK, "")
	case r.Method == http.MethodPost && (r.URL.Path == Path+"/revoke" || r.URL.Path == Path+"/revoke-others") &&
		!s.reauthenticated(w, r, sess):
		// asked for the password (again)
	case r.Method == http.MethodPost && r.URL.Path == Path+"/revoke":
		ref := r.PostFormValue("ref")
		if ref == sess.Ref() {
			s.c.Site.ErrorPage(w, http.StatusBadRequest, "Use sign out to end this session.")
			return
		}
		err := s.c.Manager.RevokeSession(ctx, user, ref)
		if errors.Is(err, session.ErrNotFound) {
			s.c.Site.ErrorPage(w, http.StatusNotFound, "No such session: it has ended already.")
			return
		}
		if err != nil {
			s.storeError(w, err)
			return
		}
		s.forgotten(w, r, user)
		http.Redirect(w, r, Path, http.StatusSeeOther)
	case r.Method == http.MethodPost && r.URL.Path == Path+"/revoke-others":
		if _, err := s.c.Manager.RevokeUserSessions(ctx, user, sess.Ref()); err != nil {
			s.storeError(w, err)
			return
		}
		s.forgotten(w, r, user)
		http.Redirect(w, r, Path, http.StatusSeeOther)
	default:
		http.NotFound(w, r)
	}
}

// renderSessions shows the page; with code != 200 it is the answer to an
// action that needs the password again.
func (s *Page) renderSessions(w http.ResponseWriter, r *http.Request, sess *session.Session, code int, msg string) {
	user := sess.User()
	list, err := s.c.Manager.ListUserSessions(r.Context(), user)
	unlisted := errors.Is(err, errors.ErrUnsupported) // the cookie store: the actions may still work
	if err != nil && !unlisted {
		s.storeError(w, err)
		return
	}
	page := pages.SessionsPage{Site: s.c.Site.Name(), User: user, Zone: zoneName(), CSRF: pages.CSRF{Field: s.c.CSRFField, Token: csrf.Token(r)},
		Error: msg, Unlisted: unlisted}
	if _, away := s.c.Method(sess).(login.ReauthRedirector); !away {
		page.Reauth = s.c.ReauthNeeded(sess, time.Now()) // the password fields
	}
	for _, in := range list {
		page.Sessions = append(page.Sessions, pages.SessionRow{Ref: in.Ref, Current: in.Current, Created: in.Created, LastSeen: in.LastSeen,
			IP: in.IP, Area: in.Area, UserAgent: in.UserAgent, Browser: browserName(in.UserAgent)})
	}
	s.c.Site.Page(w, code, page)
}

func zoneName() string {
	z, _ := time.Now().Zone()
	return z
}

// reauthenticated lets an action over other sessions through if the
// password was proven within ReauthAfter, or is proven by this request's
// "password" field (under the login limits). Otherwise it answers with the
// page asking for the password and returns false.
func (s *Page) reauthenticated(w http.ResponseWriter, r *http.Request, sess *session.Session) bool {
	now := time.Now()
	if !s.c.ReauthNeeded(sess, now) {
		return true
	}
	user := sess.User()
	if rd, ok := s.c.Method(sess).(login.ReauthRedirector); ok {
		// Proven at the login method's provider, which sends the browser
		// back to this page.
		s.c.Site.Audit(r, session.Event{Type: "reauth.required", User: user, Ref: sess.Ref()})
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, rd.ReauthURL(Path), http.StatusSeeOther)
		return false
	}
	re, ok := s.c.Method(sess).(login.Reauthenticator)
	if !ok {
		// No password at the gateway: the backend signs this user in.
		s.c.Site.Audit(r, session.Event{Type: "reauth.required", User: user, Ref: sess.Ref()})
		s.c.Site.ErrorPage(w, http.StatusForbidden, "Sign in again to manage your other sessions.")
		return false
	}
	pass := r.PostFormValue("password")
	if pass == "" {
		s.c.Site.Audit(r, session.Event{Type: "reauth.required", User: user, Ref: sess.Ref()})
		s.renderSessions(w, r, sess, http.StatusUnauthorized, "Confirm your password to sign out other sessions.")
		return false
	}
	v := re.Reauthenticate(r, user, pass)
	switch {
	case v.Wait > 0:
		s.c.Site.Count("throttled")
		s.c.Site.Audit(r, session.Event{Type: "login.throttled", User: user, Attrs: []slog.Attr{slog.String("by", v.By)}})
		w.Header().Set("Retry-After", login.RetryAfter(v.Wait))
		s.renderSessions(w, r, sess, http.StatusTooManyRequests, "Too many attempts. Wait a minute and try again.")
		return false
	case !v.OK:
		s.renderSessions(w, r, sess, http.StatusUnauthorized, "Wrong password.")
		return false
	}
	s.c.MarkAuth(sess, re.Name(), true)
	s.c.Site.Audit(r, session.Event{Type: "reauth.ok", User: user, Ref: sess.Ref()})
	return true
}

// forgotten tells the login methods that user's other sessions were
// revoked from this browser: no remembered browser may sign straight
// back in.
func (s *Page) forgotten(w http.ResponseWriter, r *http.Request, user string) {
	if err := s.c.Forget(r.Context(), w, r, user); err != nil {
		s.c.Site.Logger().Error("gateway: forgetting a revoked user's sign-ins", "err", err)
	}
}

func (s *Page) storeError(w http.ResponseWriter, err error) {
	s.c.Site.Logger().Error("gateway: session store", "err", err)
	if errors.Is(err, errors.ErrUnsupported) {
		s.c.Site.ErrorPage(w, http.StatusNotImplemented, "Not available with this session store.")
		return
	}
	s.c.Site.ErrorPage(w, http.StatusServiceUnavailable, "The session service is temporarily unavailable.")
}

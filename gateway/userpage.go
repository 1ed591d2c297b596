package gateway

import (
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

// sessionsPage is the user's own page of active sessions (M17): list,
// revoke one, revoke all others.
const sessionsPage = "/.sessiond/sessions"

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

func (s *site) serveSessionsPage(w http.ResponseWriter, r *http.Request) {
	if !s.isSecure(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, s.httpsOrigin+r.URL.RequestURI(), redirect.Status(r.Method, false))
		return
	}
	sess := session.FromContext(r.Context())
	user := sess.User()
	if user == "" {
		s.requireLogin(w, r)
		return
	}
	ctx := r.Context()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == sessionsPage:
		s.renderSessions(w, r, sess, http.StatusOK, "")
	case r.Method == http.MethodPost && (r.URL.Path == sessionsPage+"/revoke" || r.URL.Path == sessionsPage+"/revoke-others") &&
		!s.reauthenticated(w, r, sess):
		// asked for the password (again)
	case r.Method == http.MethodPost && r.URL.Path == sessionsPage+"/revoke":
		ref := r.PostFormValue("ref")
		if ref == sess.Ref() {
			s.pages.error(w, http.StatusBadRequest, "Use sign out to end this session.")
			return
		}
		err := s.m.RevokeSession(ctx, user, ref)
		if errors.Is(err, session.ErrNotFound) {
			s.pages.error(w, http.StatusNotFound, "No such session: it has ended already.")
			return
		}
		if err != nil {
			s.storeError(w, err)
			return
		}
		s.forgotten(w, r, user)
		http.Redirect(w, r, sessionsPage, http.StatusSeeOther)
	case r.Method == http.MethodPost && r.URL.Path == sessionsPage+"/revoke-others":
		if _, err := s.m.RevokeUserSessions(ctx, user, sess.Ref()); err != nil {
			s.storeError(w, err)
			return
		}
		s.forgotten(w, r, user)
		http.Redirect(w, r, sessionsPage, http.StatusSeeOther)
	default:
		http.NotFound(w, r)
	}
}

// renderSessions shows the page; with code != 200 it is the answer to an
// action that needs the password again.
func (s *site) renderSessions(w http.ResponseWriter, r *http.Request, sess *session.Session, code int, msg string) {
	user := sess.User()
	list, err := s.m.ListUserSessions(r.Context(), user)
	unlisted := errors.Is(err, errors.ErrUnsupported) // the cookie store: the actions may still work
	if err != nil && !unlisted {
		s.storeError(w, err)
		return
	}
	page := pages.SessionsPage{Site: s.cfg.Name, User: user, Zone: zoneName(), CSRF: pages.CSRF{Field: csrfField, Token: csrf.Token(r)},
		Error: msg, Reauth: s.reauthNeeded(sess, time.Now()), Unlisted: unlisted}
	for _, in := range list {
		page.Sessions = append(page.Sessions, pages.SessionRow{Ref: in.Ref, Current: in.Current, Created: in.Created, LastSeen: in.LastSeen,
			IP: in.IP, Area: in.Area, UserAgent: in.UserAgent, Browser: browserName(in.UserAgent)})
	}
	s.pages.render(w, code, page)
}

func zoneName() string {
	z, _ := time.Now().Zone()
	return z
}

// reauthenticated lets an action over other sessions through if the
// password was proven within ReauthAfter, or is proven by this request's
// "password" field (under the login limits). Otherwise it answers with the
// page asking for the password and returns false.
func (s *site) reauthenticated(w http.ResponseWriter, r *http.Request, sess *session.Session) bool {
	now := time.Now()
	if !s.reauthNeeded(sess, now) {
		return true
	}
	user := sess.User()
	re, ok := s.method(sess).(login.Reauthenticator)
	if !ok {
		// No password at the gateway: the backend signs this user in.
		s.audit(r, session.Event{Type: "reauth.required", User: user, Ref: sess.Ref()})
		s.pages.error(w, http.StatusForbidden, "Sign in again to manage your other sessions.")
		return false
	}
	pass := r.PostFormValue("password")
	if pass == "" {
		s.audit(r, session.Event{Type: "reauth.required", User: user, Ref: sess.Ref()})
		s.renderSessions(w, r, sess, http.StatusUnauthorized, "Confirm your password to sign out other sessions.")
		return false
	}
	v := re.Reauthenticate(r, user, pass)
	switch {
	case v.Wait > 0:
		s.metrics.login("throttled")
		s.audit(r, session.Event{Type: "login.throttled", User: user, Attrs: []slog.Attr{slog.String("by", v.By)}})
		w.Header().Set("Retry-After", login.RetryAfter(v.Wait))
		s.renderSessions(w, r, sess, http.StatusTooManyRequests, "Too many attempts. Wait a minute and try again.")
		return false
	case !v.OK:
		s.renderSessions(w, r, sess, http.StatusUnauthorized, "Wrong password.")
		return false
	}
	markAuth(sess, re.Name(), true)
	s.audit(r, session.Event{Type: "reauth.ok", User: user, Ref: sess.Ref()})
	return true
}

// forgotten tells the login methods that user's other sessions were
// revoked from this browser: no remembered browser may sign straight
// back in.
func (s *site) forgotten(w http.ResponseWriter, r *http.Request, user string) {
	if err := s.forgetUser(r.Context(), w, r, user); err != nil {
		s.log.Error("gateway: forgetting a revoked user's sign-ins", "err", err)
	}
}

func (s *site) storeError(w http.ResponseWriter, err error) {
	s.log.Error("gateway: session store", "err", err)
	if errors.Is(err, errors.ErrUnsupported) {
		s.pages.error(w, http.StatusNotImplemented, "Not available with this session store.")
		return
	}
	s.pages.error(w, http.StatusServiceUnavailable, "The session service is temporarily unavailable.")
}

package gateway

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessiond/sessiond/csrf"
	"github.com/sessiond/sessiond/session"
)

// sessionsPage is the user's own page of active sessions (M17): list,
// revoke one, revoke all others.
const sessionsPage = "/.sessiond/sessions"

var sessionsTmpl = template.Must(template.New("sessions").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your sessions — {{.Site}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.4rem;text-align:left}</style></head>
<body><h1>Your active sessions</h1><p>Signed in as <b>{{.User}}</b>.</p>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
{{if .Reauth}}<p id="reauth">To sign out other sessions, confirm your password.</p>{{end}}
<table id="sessions"><tr><th>Created</th><th>Last seen</th><th>IP</th><th>Area</th><th>Browser</th><th></th></tr>
{{range .Sessions}}<tr data-ref="{{.Ref}}"><td>{{.Created.Format "2006-01-02 15:04"}}</td><td>{{.LastSeen.Format "2006-01-02 15:04"}}</td>
<td>{{.IP}}</td><td>{{.Area}}</td><td>{{.UserAgent}}</td>
<td>{{if .Current}}this session{{else}}<form method="post" action="/.sessiond/sessions/revoke">{{$.Field}}
<input type="hidden" name="ref" value="{{.Ref}}">{{if $.Reauth}}<input type="password" name="password" autocomplete="current-password" required aria-label="Your password">{{end}}<button>Revoke</button></form>{{end}}</td></tr>
{{end}}</table>
{{if .Unlisted}}<p>This session store cannot list your sessions.</p>{{end}}
<form method="post" action="/.sessiond/sessions/revoke-others">{{.Field}}{{if .Reauth}}<input type="password" name="password" autocomplete="current-password" required aria-label="Your password">{{end}}<button>Sign out everywhere else</button></form>
</body></html>
`))

func (s *site) serveSessionsPage(w http.ResponseWriter, r *http.Request) {
	if !s.isSecure(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, s.cfg.HTTPSOrigin+r.URL.RequestURI(), redirectCode(r.Method))
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
			http.Error(w, "Use sign out to end this session.", http.StatusBadRequest)
			return
		}
		err := s.m.RevokeSession(ctx, user, ref)
		if errors.Is(err, session.ErrNotFound) {
			http.Error(w, "No such session.", http.StatusNotFound)
			return
		}
		if err != nil {
			s.storeError(w, err)
			return
		}
		http.Redirect(w, r, sessionsPage, http.StatusSeeOther)
	case r.Method == http.MethodPost && r.URL.Path == sessionsPage+"/revoke-others":
		if _, err := s.m.RevokeUserSessions(ctx, user, sess.Ref()); err != nil {
			s.storeError(w, err)
			return
		}
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
	data := map[string]any{"Site": s.cfg.Name, "User": user, "Sessions": list, "Field": csrf.TemplateField(r),
		"Reauth": s.reauthNeeded(sess, time.Now()), "Error": msg, "Unlisted": unlisted}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	sessionsTmpl.Execute(w, data)
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
	if s.login == nil || sess.Get(authViaKey) == authViaBackend {
		// No password at the gateway: the backend signs this user in.
		s.audit(r, session.Event{Type: "reauth.required", User: user, Ref: sess.Ref()})
		http.Error(w, "Sign in again to manage your other sessions.", http.StatusForbidden)
		return false
	}
	pass := r.PostFormValue("password")
	if pass == "" {
		s.audit(r, session.Event{Type: "reauth.required", User: user, Ref: sess.Ref()})
		s.renderSessions(w, r, sess, http.StatusUnauthorized, "Confirm your password to sign out other sessions.")
		return false
	}
	v := s.login.attempt(r, user, pass)
	switch {
	case v.wait > 0:
		s.metrics.login("throttled")
		s.audit(r, session.Event{Type: "login.throttled", User: user, Attrs: []slog.Attr{slog.String("by", v.by)}})
		w.Header().Set("Retry-After", itoa(int(v.wait/time.Second)+1))
		s.renderSessions(w, r, sess, http.StatusTooManyRequests, "Too many attempts. Wait a minute and try again.")
		return false
	case !v.ok:
		s.renderSessions(w, r, sess, http.StatusUnauthorized, "Wrong password.")
		return false
	}
	markAuth(sess, authViaGateway, now)
	s.audit(r, session.Event{Type: "reauth.ok", User: user, Ref: sess.Ref()})
	return true
}

func (s *site) storeError(w http.ResponseWriter, err error) {
	s.log.Error("gateway: session store", "err", err)
	if errors.Is(err, errors.ErrUnsupported) {
		http.Error(w, "Not available with this session store.", http.StatusNotImplemented)
		return
	}
	http.Error(w, "The session service is temporarily unavailable.", http.StatusServiceUnavailable)
}

package gateway

import (
	"errors"
	"html/template"
	"net/http"

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
<table id="sessions"><tr><th>Created</th><th>Last seen</th><th>IP</th><th>Area</th><th>Browser</th><th></th></tr>
{{range .Sessions}}<tr data-ref="{{.Ref}}"><td>{{.Created.Format "2006-01-02 15:04"}}</td><td>{{.LastSeen.Format "2006-01-02 15:04"}}</td>
<td>{{.IP}}</td><td>{{.Area}}</td><td>{{.UserAgent}}</td>
<td>{{if .Current}}this session{{else}}<form method="post" action="/.sessiond/sessions/revoke">{{$.Field}}
<input type="hidden" name="ref" value="{{.Ref}}"><button>Revoke</button></form>{{end}}</td></tr>
{{end}}</table>
<form method="post" action="/.sessiond/sessions/revoke-others">{{.Field}}<button>Sign out everywhere else</button></form>
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
		list, err := s.m.ListUserSessions(ctx, user)
		if err != nil {
			s.storeError(w, err)
			return
		}
		data := map[string]any{"Site": s.cfg.Name, "User": user, "Sessions": list, "Field": csrf.TemplateField(r)}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		sessionsTmpl.Execute(w, data)
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

func (s *site) storeError(w http.ResponseWriter, err error) {
	s.log.Error("gateway: session store", "err", err)
	if errors.Is(err, errors.ErrUnsupported) {
		http.Error(w, "Not available with this session store.", http.StatusNotImplemented)
		return
	}
	http.Error(w, "The session service is temporarily unavailable.", http.StatusServiceUnavailable)
}

package gateway

import (
	"net/http"

	"github.com/sessiond/sessiond/gateway/userpage"
)

// sessionsPage is the user's own page of active sessions (gateway/userpage).
const sessionsPage = userpage.Path

// newUserPage is the site's sessions page behind its CSRF check.
func (s *site) newUserPage() http.Handler {
	return s.csrf.Handler(userpage.New(userpage.Config{Site: loginSite{s}, Manager: s.m, RequireLogin: s.requireLogin,
		Forget: s.forgetUser, ReauthNeeded: s.reauthNeeded, Method: s.method, MarkAuth: markAuth, CSRFField: csrfField}))
}

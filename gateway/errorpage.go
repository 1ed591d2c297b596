package gateway

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/sessiond/sessiond/csrf"
	"github.com/sessiond/sessiond/gateway/pages"
	"github.com/sessiond/sessiond/session"
)

// sitePages renders a site's own pages (package pages) with its
// templates: the site's pages.templates_dir, else the built-in ones.
type sitePages struct {
	name string     // the site's name, on every page
	set  *pages.Set // nil: the built-in pages
	log  *slog.Logger
}

// render answers with page p; an operator's template that fails is
// logged (the built-in page went out instead).
func (p sitePages) render(w http.ResponseWriter, code int, page pages.Page) {
	if err := p.set.Render(w, code, page); err != nil && p.log != nil {
		p.log.Error("gateway: page template", "page", page.File(), "err", err)
	}
}

// error answers with the site's error page: the status, the message and
// a way back to the site's home.
func (p sitePages) error(w http.ResponseWriter, code int, msg string) {
	p.render(w, code, pages.ErrorPage{Site: p.name, Message: msg})
}

// sessionErrors is the session manager's ErrorHandler for a site: the
// library's status, headers and message (503 store down, 429 throttled,
// ...) on the site's error page.
func sessionErrors(p sitePages) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		session.ErrorHeaders(w.Header(), err)
		code, msg := session.ErrorStatus(err)
		p.error(w, code, msg)
	}
}

// csrfRefused answers a form of the gateway's own (login, logout, the
// sessions page) that failed its CSRF check: which kind of failure, in
// fixed words; nothing from the request is echoed.
func (p sitePages) csrfRefused(w http.ResponseWriter, r *http.Request) {
	msg := "The form you sent has expired or does not belong to your current session (for example after you signed in or out in another tab, or your session ended). Nothing was changed: go back, reload the page and send the form again."
	if errors.Is(csrf.Failure(r), csrf.ErrCrossOrigin) {
		msg = "This request was sent to this site from another web site, so it was not carried out. If you meant to do this, open this site directly, reload the page and send the form again."
	}
	p.render(w, http.StatusForbidden, pages.ErrorPage{Site: p.name, Title: "Request refused", Message: msg})
}

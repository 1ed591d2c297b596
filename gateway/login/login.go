// Package login is the seam between a gateway site and the ways its users
// sign in. A site runs any number of login methods (form login with an
// htpasswd file in gateway/login/form; single sign-on with OpenID
// Connect; ...); each is one Method and talks to the site only through
// Site.
//
// What the site does for every method, once:
//   - serves the method's Routes inside its session handler (the session
//     is in the request's context: session.FromContext), Form routes only
//     over HTTPS and under the site's CSRF check;
//   - renders the one login page, with every method's Offer (LoginPage);
//   - signs a user in with a hard regeneration, a fresh CSRF secret and
//     the record of which method vouches for the session (SignIn);
//   - asks, on each request of a signed-in session, the method that signed
//     it in whether it still vouches for its user (Vouches), and signs the
//     user out when it does not;
//   - runs the logout (its configured logout path, or a backend's logout
//     action), calling every method's SignOut first;
//   - tells every method when all of a user's sessions are revoked
//     (ForgetUser), so that nothing it keeps signs the user straight back
//     in;
//   - keeps the methods' Cookies from backends.
//
// A new login method is one package implementing Method, one block in
// the site's configuration, and one line where sites are built.
package login

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/sessiond/sessiond/gateway/pages"
	"github.com/sessiond/sessiond/session"
)

// Method is one way of signing in at a site.
type Method interface {
	// Name names the method in the session (the method that vouches for
	// its user), in audit events and in the configuration: "form", "oidc".
	// Distinct per site, stable across restarts.
	Name() string

	// Routes are the method's own paths on the site, normally under
	// "/.sessiond/<name>/" (the form login also answers the site's login
	// path). The site routes them before anything else, with the session
	// in the request's context.
	Routes() []Route

	// Offer is what the login page shows for this method to a client who
	// is to return to next (already checked by SafeNext).
	Offer(r *http.Request, next string) Offer

	// Recognize is called on each request whose session has no signed-in
	// user: a method that can sign the client in without asking (a
	// remember-me cookie) does so with Site.SignIn; others do nothing.
	Recognize(w http.ResponseWriter, r *http.Request, sess *session.Session)

	// Vouches is called on each request of a session this method signed
	// in (Site.SignIn with its Name). ok false signs the user out at once:
	// the site ends the session, audits event (with the user and the
	// session's Ref) and serves the request anonymously. A method that
	// re-checks its user elsewhere (a refresh at the provider) does it
	// here, at the pace it chooses.
	Vouches(w http.ResponseWriter, r *http.Request, sess *session.Session) (ok bool, event string)

	// SignOut is called when the user of sess signs out (the site's
	// logout path, or a backend's logout action), before the session
	// ends: the method clears what it keeps for this browser and returns
	// where the browser goes next — next itself, or a detour that ends at
	// next (the provider's end-session endpoint). For a backend's logout
	// the answer is the backend's, and the returned URL is not used.
	SignOut(w http.ResponseWriter, r *http.Request, sess *session.Session, next string) string

	// ForgetUser is called when every session of user in the site's realm
	// is revoked ("sign out everywhere else", an admin's revoke, the user
	// removed): nothing the method keeps (remember-me keys) may sign the
	// user back in. w and r are the browser that asked, both nil when
	// there is none (the admin API, a reloaded users file).
	ForgetUser(ctx context.Context, w http.ResponseWriter, r *http.Request, user string) error

	// Cookies names the method's own cookies: never forwarded to a
	// backend, never set by one.
	Cookies() []string
}

// Route is one path a Method serves.
type Route struct {
	// Path is matched exactly against the request's (canonical) path.
	Path    string
	Handler http.Handler
	// Form marks a route that takes the user's credentials or a form of
	// the site: served only over HTTPS (a plain-HTTP GET or HEAD is sent
	// to HTTPS, anything else refused before its body is read) and under
	// the site's CSRF check (session-bound token, field "csrf_token").
	Form bool
}

// Offer is one method's part of the login page.
type Offer struct {
	// Password shows the user-name-and-password form, posted to Action.
	Password bool
	Action   string
	// Remember shows its "Keep me signed in" checkbox (field "remember").
	Remember bool
	// Buttons start the method's sign-in elsewhere ("Sign in with
	// <Name>"): links the browser follows with GET, each URL same-site
	// and carrying next itself.
	Buttons []pages.Provider
}

// Prompt is what a method asks the login page to say when it answers
// with it (a wrong password, a refusal).
type Prompt struct {
	Next  string // where the client goes after signing in (SafeNext)
	User  string // the user name to fill in again
	Error string // "" or a message for the user
}

// SignIn is a user that a method vouches for, to be signed in.
type SignIn struct {
	// User is the session's user (wire.ValidUser).
	User string
	// Method is the Name of the method that vouches for User: the one
	// asked Vouches on this session's later requests.
	Method string
	// Proven says the user proved their credentials with this request
	// (a password, a provider's fresh login): actions over other sessions
	// take it as a recent re-authentication. False for a remember-me key.
	Proven bool
	// Email and Groups are the user's identity beyond the name, as the
	// method knows it (empty: none). Kept in the session's secure
	// partition; the site tells backends.
	Email  string
	Groups []string
	// Data is what the method keeps in the session for itself (tokens):
	// stored under DataKey(Method, name) in the secure partition, never
	// shown to backends, read back with sess.Get(DataKey(...)).
	Data map[string]string
}

// Site is what a Method may ask of the site it serves.
type Site interface {
	// Name is the site's configured name (pages, logs).
	Name() string
	// Logger is the site's logger (log/slog; never a secret in it).
	Logger() *slog.Logger
	// Realm is the session realm of the site's sessions.
	Realm() string
	// Audit records e with the time, client address and user agent of r
	// filled in where empty. r is nil for events no request caused.
	Audit(r *http.Request, e session.Event)
	// Count counts one login attempt's result in the site's metrics:
	// "ok", "failed" or "throttled".
	Count(result string)
	// ClientIP is the client's address as the site judged it (trusted
	// proxies applied); invalid if unknown.
	ClientIP(r *http.Request) netip.Addr
	// IsSecure reports whether r came over HTTPS (directly or from a
	// trusted proxy that says so).
	IsSecure(r *http.Request) bool
	// HTTPSOrigin is the site's HTTPS origin ("https://host:port"):
	// absolute redirect targets start here.
	HTTPSOrigin() string
	// ErrorPage answers with the site's error page: code and message.
	ErrorPage(w http.ResponseWriter, code int, msg string)
	// Page answers with one of the site's pages (its templates, else the
	// built-in ones), e.g. a pages.RefusedPage.
	Page(w http.ResponseWriter, code int, p pages.Page)
	// LoginPage answers with the site's login page (status code), showing
	// every method's offer and p. It starts the session if needed (the
	// page's CSRF token), so call it before writing anything else.
	LoginPage(w http.ResponseWriter, r *http.Request, code int, p Prompt)
	// SignIn signs in.User into the request's session: a new session ID
	// (hard regeneration, the pre-login ID ends), a fresh CSRF secret, and
	// the record of in.Method, in.Proven, the identity and the data. The
	// method audits its own login.* event afterwards (sess.Ref() names the
	// new session). An error leaves the session signed out.
	SignIn(w http.ResponseWriter, r *http.Request, in SignIn) error
	// RevokeUser ends every session of user in the site's realm (the
	// theft response, a provider's back-channel logout) and reports how
	// many; errors.ErrUnsupported where the store cannot count them.
	RevokeUser(ctx context.Context, user string) (int, error)
	// RevokeSession ends user's session ref (sess.Ref() after SignIn) in
	// the site's realm: a provider's back-channel logout of one of its
	// sessions. session.ErrNotFound if it has ended already.
	RevokeSession(ctx context.Context, user, ref string) error
}

// Reauthenticator is a Method that can prove again, inside a signed-in
// session, that its user is present: the sessions page asks it (with the
// password field it shows) before an action over other sessions.
type Reauthenticator interface {
	Method
	// Reauthenticate checks secret for user under the method's limits;
	// it counts and audits a failure itself.
	Reauthenticate(r *http.Request, user, secret string) Result
}

// ReauthRedirector is a Method whose user proves their presence again
// away from the site (at an OpenID provider): the sessions page sends the
// browser to ReauthURL before an action over other sessions. The method
// checks that the same user proved themselves afresh, signs them in again
// (Site.SignIn, Proven), audits reauth.ok or reauth.failed, and sends the
// browser on to next.
type ReauthRedirector interface {
	Method
	// ReauthURL is the site-relative URL that starts it, returning to
	// next (same-site).
	ReauthURL(next string) string
}

// Result is the outcome of one credential check.
type Result struct {
	OK bool
	// Wait > 0: refused by a limit (By names it: "client", "user"), the
	// credentials were not checked; Retry-After is RetryAfter(Wait).
	Wait time.Duration
	By   string
}

// Directory is a Method with a list of users of its own (an htpasswd
// file): a session imported from elsewhere (a migrated Apache session)
// is signed in only as a user it holds.
type Directory interface {
	Method
	HasUser(user string) bool
}

// Reloader is a Method with files to re-read (SIGHUP, or a periodic
// check): on an error, Reload keeps the previous state in force.
type Reloader interface {
	Method
	Reload() error
}

// InternalPrefix starts every session key the gateway keeps for itself:
// in the secure partition, never shown to a backend nor set by one.
const InternalPrefix = "secure.sessiond."

// Session keys of the signed-in identity that SignIn keeps.
const (
	EmailKey  = InternalPrefix + "email"
	GroupsKey = InternalPrefix + "groups" // the groups, one per line
)

// DataKey is the session key of a method's datum name (SignIn.Data).
func DataKey(method, name string) string {
	return InternalPrefix + "login." + method + "." + name
}

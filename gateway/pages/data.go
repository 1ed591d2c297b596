package pages

import "time"

// Page is the data of one gateway page: LoginPage, RefusedPage,
// SessionsPage or ErrorPage. Set.Render picks the page's template by it.
type Page interface {
	// File is the page's template file name (login.html, ...): the name
	// that overrides it in an operator's templates directory.
	File() string
	// sample is the page with every optional part filled, for trying an
	// operator's template at load time.
	sample() Page
}

// CSRF is a form's hidden anti-forgery field. Templates write it with
// {{template "csrf" .CSRF}}, or by hand:
// <input type="hidden" name="{{.CSRF.Field}}" value="{{.CSRF.Token}}">.
type CSRF struct {
	Field string // the field's name
	Token string // its value
}

// Provider is one "Sign in with <Name>" button of the sign-in page.
type Provider struct {
	// ID names the provider in the page (data-provider), for tests and
	// style; Name is what the user reads ("Example ID").
	ID, Name string
	// URL starts the provider's sign-in: a same-site path (its next=
	// included) that the browser follows with GET. URLs that are not
	// http(s) or relative are neutralised by html/template.
	URL string
}

// LoginPage is the sign-in page (login.html): a list of provider buttons
// and the password form, either of which may be absent.
type LoginPage struct {
	Site string // the site's name
	// Action is where the password form posts (the site's login path).
	Action string
	CSRF   CSRF
	// Next is where a successful sign-in returns to (a same-site path,
	// already checked).
	Next string
	// User refills the user name field after a failed attempt.
	User string
	// Error says why the last attempt failed; Why why the client was
	// sent here (both "" for none).
	Error, Why string
	// Password shows the password form; Remember its "Keep me signed in"
	// box.
	Password, Remember bool
	// Providers are the single sign-on buttons, in order.
	Providers []Provider
}

// File implements Page.
func (LoginPage) File() string { return Login }

func (LoginPage) sample() Page {
	return LoginPage{Site: "shop", Action: "/login", CSRF: CSRF{Field: "csrf_token", Token: "token"}, Next: "/account",
		User: "alice", Error: "Wrong user name or password.", Why: "Sign in to see your account.", Password: true, Remember: true,
		Providers: []Provider{{ID: "idp", Name: "Example ID", URL: "/.sessiond/oidc/start?next=%2Faccount"}}}
}

// RefusedPage says that a sign-in was refused and why (refused.html):
// the provider signed the user in, but the site does not let them in.
type RefusedPage struct {
	Site string
	// User is the account the provider named ("" if unknown), Provider
	// the provider's name ("" for none).
	User, Provider string
	// Reason is why, in words for the user ("Your account is not in a
	// group allowed on this site.").
	Reason string
	// RetryURL is where to try another account ("" shows no button).
	RetryURL string
}

// File implements Page.
func (RefusedPage) File() string { return Refused }

func (RefusedPage) sample() Page {
	return RefusedPage{Site: "shop", User: "mallory@example.com", Provider: "Example ID",
		Reason: "Your account is not in a group allowed on this site.", RetryURL: "/login"}
}

// ErrorPage is every error the gateway answers itself (error.html): a
// refused request, a backend or store that is down, an identity
// provider that does not answer.
type ErrorPage struct {
	Site string
	// Code is the HTTP status; Render sets it. Title is the heading:
	// Render fills in the status text (Service Unavailable) when it is "".
	Code  int
	Title string
	// Message says what happened and what to do, in words for the user.
	Message string
	// LinkURL and LinkText add an action button ("Try again", "Go to
	// the secure sign-in page"); none when LinkURL is "".
	LinkURL, LinkText string
}

// File implements Page.
func (ErrorPage) File() string { return Error }

func (ErrorPage) sample() Page {
	return ErrorPage{Site: "shop", Code: 503, Title: "Service Unavailable",
		Message: "The sign-in provider is not answering. Please try again shortly.", LinkURL: "/login", LinkText: "Try again"}
}

// SessionsPage is the user's own list of active sessions
// (sessions.html), with a form to revoke each other one and one to sign
// out everywhere else.
type SessionsPage struct {
	Site string
	User string
	// Zone names the time zone times are shown in ({{when .Created}}).
	Zone string
	CSRF CSRF
	// Error says why the last action was not carried out.
	Error string
	// Reauth: the actions need the password (a "password" field).
	Reauth bool
	// Unlisted: the store cannot list sessions; signing out everywhere
	// else still works.
	Unlisted bool
	Sessions []SessionRow
}

// SessionRow is one session on the sessions page.
type SessionRow struct {
	// Ref names the session to the revoke form (its "ref" field); never
	// its ID.
	Ref string
	// Current marks the session of the request.
	Current           bool
	Created, LastSeen time.Time
	IP, Area          string
	// UserAgent is what the browser sent; Browser the same in words
	// ("Firefox 128 on Linux").
	UserAgent, Browser string
}

// File implements Page.
func (SessionsPage) File() string { return Sessions }

func (SessionsPage) sample() Page {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return SessionsPage{Site: "shop", User: "alice", Zone: "UTC", CSRF: CSRF{Field: "csrf_token", Token: "token"},
		Error: "Wrong password.", Reauth: true, Unlisted: true, Sessions: []SessionRow{
			{Ref: "r1", Current: true, Created: t, LastSeen: t, IP: "192.0.2.1", Area: "Berlin, DE", UserAgent: "curl/8.5.0", Browser: "curl 8"},
			{Ref: "r2", Created: t, LastSeen: t, IP: "2001:db8::1", UserAgent: "Mozilla/5.0", Browser: "Mozilla/5.0"},
		}}
}

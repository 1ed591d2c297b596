package testoidc

import (
	"crypto/rand"
	"html/template"
	"net/http"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Paths of the provider's own pages (beside op's endpoints).
const (
	pathLogin     = "/login"
	pathLoggedOut = "/logged-out"
	loginParamID  = "authRequestID"
	// SessionCookie is the provider's sign-in cookie: while a browser holds
	// it, a new authorization signs in the same user without a login page
	// (unless the client sends prompt=login), as a real provider does.
	SessionCookie = "testoidc_session"
)

// routes is the provider's handler: its login step and pages, the test
// knobs wrapped around op's token and end-session endpoints, and op for
// everything else (discovery, JWKS, authorize, token, userinfo, ...).
func (p *Provider) routes() http.Handler {
	issuer := op.NewIssuerInterceptor(p.op.IssuerFromRequest)
	mux := http.NewServeMux()
	mux.Handle(pathLogin, issuer.HandlerFunc(p.login))
	mux.HandleFunc(pathLoggedOut, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!doctype html><title>Signed out</title><h1>You are signed out of the test provider.</h1>"))
	})
	mux.Handle(p.op.TokenEndpoint().Relative(), p.forgeTokens(p.op))
	mux.Handle(p.op.EndSessionEndpoint().Relative(), p.endSession(p.op))
	mux.Handle("/", p.op)
	return mux
}

// NextUser makes the next login step that would show the login form sign
// in username instead, without any page: for an http.Client following
// redirects as for a browser. Calls queue: each one answers one login.
// A browser holding the provider's SessionCookie is signed in from it and
// does not use the queue (unless the client asked prompt=login).
func (p *Provider) NextUser(username string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.next = append(p.store.next, nextLogin{username: username})
}

// DenyNext makes the next login step answer the client with
// error=access_denied, as when a user cancels at the provider.
func (p *Provider) DenyNext() {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.next = append(p.store.next, nextLogin{deny: true})
}

// login is the provider's login step. GET signs in from the session
// cookie or the NextUser queue, else shows the form; POST checks the form.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Form.Get(loginParamID)
	areq, err := p.store.AuthRequestByID(r.Context(), id)
	if err != nil {
		http.Error(w, "unknown or finished authorization request", http.StatusBadRequest)
		return
	}
	prompt := areq.(*authRequest).prompt
	if r.Method == http.MethodPost {
		p.checkForm(w, r, id)
		return
	}
	if !slices.Contains(prompt, oidc.PromptLogin) {
		if subject, sid, ok := p.cookieSession(r); ok {
			p.finish(w, r, id, subject, sid)
			return
		}
	}
	if slices.Contains(prompt, oidc.PromptNone) {
		op.AuthRequestError(w, r, areq, oidc.ErrLoginRequired(), p.op)
		return
	}
	p.store.mu.Lock()
	var next *nextLogin
	if len(p.store.next) > 0 {
		next = &p.store.next[0]
		p.store.next = p.store.next[1:]
	}
	p.store.mu.Unlock()
	switch {
	case next == nil:
		p.renderLogin(w, id, "", http.StatusOK)
	case next.deny:
		op.AuthRequestError(w, r, areq, oidc.ErrAccessDenied().WithDescription("the user refused"), p.op)
	default:
		p.signIn(w, r, id, next.username)
	}
}

func (p *Provider) checkForm(w http.ResponseWriter, r *http.Request, id string) {
	name, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	p.store.mu.Lock()
	u := p.store.userByName(name)
	ok := u != nil && (u.Password == "" || u.Password == password)
	p.store.mu.Unlock()
	if !ok {
		p.renderLogin(w, id, "Unknown user or wrong password.", http.StatusUnauthorized)
		return
	}
	p.signIn(w, r, id, name)
}

// signIn starts a provider session for username and finishes the request.
func (p *Provider) signIn(w http.ResponseWriter, r *http.Request, id, username string) {
	sid := rand.Text()
	p.store.mu.Lock()
	u := p.store.userByName(username)
	if u != nil {
		p.store.sessions[sid] = &session{sid: sid, subject: u.Subject, clients: map[string]bool{}}
	}
	p.store.mu.Unlock()
	if u == nil {
		http.Error(w, "testoidc: NextUser names no user: "+username, http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: sid, Path: "/",
		HttpOnly: true, Secure: p.cert != nil, SameSite: http.SameSiteLaxMode,
	})
	p.finish(w, r, id, u.Subject, sid)
}

func (p *Provider) finish(w http.ResponseWriter, r *http.Request, id, subject, sid string) {
	if err := p.store.completeLogin(id, subject, sid); err != nil {
		http.Error(w, "unknown or finished authorization request", http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, op.AuthCallbackURL(p.op)(r.Context(), id), http.StatusFound)
}

// cookieSession returns the live provider session the request's cookie
// names.
func (p *Provider) cookieSession(r *http.Request) (subject, sid string, ok bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", "", false
	}
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	ses := p.store.sessions[c.Value]
	if ses == nil || ses.ended || p.store.users[ses.subject] == nil {
		return "", "", false
	}
	return ses.subject, ses.sid, true
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Test provider sign-in</title></head>
<body><h1>Test provider</h1>
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="` + pathLogin + `">
<input type="hidden" name="` + loginParamID + `" value="{{.ID}}">
<label>Username <input name="username" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit" id="signin">Sign in</button>
</form></body></html>`))

// renderLogin shows the login form. A browser test fills
// input[name=username] (and input[name=password] for a user with a
// Password) and clicks #signin; an http client posts username, password and
// authRequestID to /login.
func (p *Provider) renderLogin(w http.ResponseWriter, id, msg string, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	loginPage.Execute(w, struct{ ID, Error string }{id, msg})
}

package login

import (
	"html/template"
	"io"
)

// Page is everything the login page shows: the site's one rendering of
// it (RenderPage) takes nothing else.
type Page struct {
	Site  string // the site's name
	Token string // the CSRF token of the page's forms (field "csrf_token")
	Next  string // where the client goes after signing in (SafeNext)
	User  string // the user name to fill in again
	Error string // "" or a message for the user
	Why   string // "" or why the client was sent here (the site's inspector)
	// Password shows the password form, posted to Action; Remember its
	// "Keep me signed in" checkbox.
	Password bool
	Action   string
	Remember bool
	// Buttons start a sign-in elsewhere, in the methods' order.
	Buttons []Button
}

// Add merges one method's offer into p.
func (p *Page) Add(o Offer) {
	if o.Password && !p.Password {
		p.Password, p.Action, p.Remember = true, o.Action, o.Remember
	}
	p.Buttons = append(p.Buttons, o.Buttons...)
}

// RenderPage writes the login page's HTML for p (headers and status are
// the caller's).
func RenderPage(w io.Writer, p Page) error { return pageTmpl.Execute(w, p) }

var pageTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in — {{.Site}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem}button{margin-top:1rem;padding:.5rem 1.2rem}
.err{color:#a00}.why{background:#eaf2ff;border:1px solid #9fbef0;border-radius:.4rem;padding:.5rem .8rem}
.sso{display:block;margin:1rem 0;padding:.5rem 1.2rem;border:1px solid #888;border-radius:.3rem;text-align:center;text-decoration:none;color:inherit}</style></head>
<body><p><a href="/" id="home">← Back to {{.Site}}</a></p><h1>Sign in</h1>
{{if .Why}}<p class="why" id="why" role="status">{{.Why}}</p>{{end}}
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
{{range .Buttons}}<a class="sso" id="{{.ID}}" href="{{.URL}}">{{.Label}}</a>
{{end}}{{if .Password}}<form method="post" action="{{.Action}}" id="login">
<input type="hidden" name="csrf_token" value="{{.Token}}">
<input type="hidden" name="next" value="{{.Next}}">
<label for="username">User name</label><input id="username" name="username" autocomplete="username" required value="{{.User}}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
{{if .Remember}}<label><input type="checkbox" id="remember" name="remember" value="1" style="width:auto"> Keep me signed in</label>{{end}}
<button type="submit">Sign in</button>
</form>{{end}}</body></html>
`))

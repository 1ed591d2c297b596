package gateway

import (
	"errors"
	"fmt"
	"github.com/sessiond/sessiond/gateway/config"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/csrf"
	loginpkg "github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/internal/ratelimit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

// login is the gateway's form login (mod_auth_form done safely): users
// from an htpasswd file, session-bound CSRF tokens, per-client and
// per-user rate limits, regeneration on login, and next= only to a
// same-site relative path.
type login struct {
	s         *site
	perClient *ratelimit.Limiter
	perUser   *ratelimit.Limiter
	devices   *devices
}

func newLogin(s *site, deviceKey []byte, maxClients int) (*login, error) {
	l := &login{s: s}
	rl := s.cfg.Auth.RateLimit
	var err1, err2 error
	l.perClient, err1 = newLimiter(rl.PerIP, maxClients)
	l.perUser, err2 = newLimiter(rl.PerUser, maxClients)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("login rate limit: %w", err)
	}
	d, err := newDevices(s.cfg.Name, deviceKey, rl.PerDevice)
	if err != nil {
		return nil, err
	}
	l.devices = d
	return l, nil
}

// newLimiter builds a login limiter remembering at most maxKeys clients
// or users; attempts 0 turns it off (nil).
func newLimiter(r config.Rate, maxKeys int) (*ratelimit.Limiter, error) {
	if r.Attempts <= 0 {
		return nil, nil
	}
	return ratelimit.New(ratelimit.Config{Every: r.Every(), Burst: r.Attempts, MaxKeys: max(maxKeys, 0)})
}

// clientKey is r's key in the per-client login limiter: its client's
// network (session.ClientPrefix), so that an IPv6 host cannot rotate
// through the addresses of its /64 to reset its budget.
func clientKey(r *http.Request) string {
	a, err := netip.ParseAddr(clientAddr(r))
	if err != nil {
		return "ip:" // unknown clients share one budget
	}
	return "ip:" + session.ClientPrefix(a).String()
}

// safeNext returns next if it is a same-site relative path, else "/".
// Refused: absolute and scheme-relative URLs (//evil, /\evil), anything
// with a backslash, control characters or whitespace (browsers drop tabs
// and newlines: /%09/evil becomes //evil), and encoded forms of those.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return "/"
	}
	dec, err := url.PathUnescape(next)
	if err != nil {
		return "/"
	}
	for _, v := range []string{next, dec} {
		if strings.HasPrefix(v, "//") || strings.HasPrefix(v, "/\\") || strings.ContainsRune(v, '\\') {
			return "/"
		}
		for _, r := range v {
			if r < 0x20 || r == 0x7f || r == ' ' {
				return "/"
			}
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

func (l *login) render(w http.ResponseWriter, r *http.Request, code int, next, user, msg string) {
	// The token first: it may start the session, whose cookie must go out
	// with these headers.
	page := loginpkg.Page{Site: l.s.cfg.Name, Token: csrf.Token(r), Next: next, User: user, Error: msg}
	page.Add(loginpkg.Offer{Password: true, Action: l.s.cfg.Auth.LoginPath, Remember: l.s.remember != nil})
	l.s.writeLoginPage(w, r, code, page)
}

// insecure answers a login or logout that arrived over plain HTTP: GET is
// sent to HTTPS; a POST (credentials!) is refused and never processed.
func (l *login) insecure(w http.ResponseWriter, r *http.Request) {
	target := l.s.httpsOrigin + r.URL.RequestURI()
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	l.s.audit(r, session.Event{Type: "login.refused_http"})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	insecurePage.Execute(w, l.s.httpsOrigin+l.s.cfg.Auth.LoginPath)
}

var insecurePage = template.Must(template.New("insecure").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Use the secure sign-in page</title></head><body><p><a href="/" id="home">← Back to the site</a></p><h1>Sign in over HTTPS</h1>
<p>Your password was sent over an unencrypted connection, so it was not checked. Change it if this network is not yours.</p>
<p><a href="{{.}}">Go to the secure sign-in page</a></p></body></html>
`))

func (l *login) serveLogin(w http.ResponseWriter, r *http.Request) {
	if !l.s.isSecure(r) {
		l.insecure(w, r)
		return
	}
	sess := session.FromContext(r.Context())
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if sess.IsNew() {
			l.s.logEvent(sess, "created") // the form's CSRF token starts the session
		}
		l.render(w, r, http.StatusOK, safeNext(r.URL.Query().Get("next")), "", "")
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		errorPage(w, l.s.cfg.Name, http.StatusMethodNotAllowed, "Sign in with the form on this page.")
		return
	}
	next := safeNext(r.PostFormValue("next"))
	user := r.PostFormValue("username")
	pass := r.PostFormValue("password")
	if len(user) > wire.MaxUserLen {
		// Never a limiter key, a log line or a page echo: an unbounded name
		// would grow memory and the audit log at the client's will.
		l.perClient.Take(clientKey(r))
		l.s.metrics.login("failed")
		l.s.audit(r, session.Event{Type: "login.failed", Attrs: []slog.Attr{slog.Int("user_bytes", len(user))}})
		l.render(w, r, http.StatusUnauthorized, next, "", "Wrong user name or password.")
		return
	}
	v := l.attempt(r, user, pass)
	if v.wait > 0 {
		l.limited(w, r, next, user, v.wait, v.by)
		return
	}
	if !v.ok {
		l.render(w, r, http.StatusUnauthorized, next, user, "Wrong user name or password.")
		return
	}
	legacy := v.legacy
	if err := sess.Login(user); err != nil {
		l.s.log.Error("gateway: login", "err", err)
		errorPage(w, l.s.cfg.Name, http.StatusInternalServerError, "Sign-in failed. Please try again.")
		return
	}
	markAuth(sess, authViaGateway, time.Now())
	l.s.csrf.Rotate(r)
	l.devices.issue(w, user)
	l.rememberLogin(w, r, user)
	l.s.logEvent(sess, "login")
	if legacy {
		if err := l.s.users.Upgrade(user, pass); err != nil {
			l.s.log.Warn("gateway: legacy password hash kept (could not upgrade to bcrypt)", "user", user, "err", err)
		} else {
			l.s.log.Info("gateway: password hash upgraded to bcrypt", "user", user)
		}
	}
	l.perUser.Reset("user:" + user)
	l.s.metrics.login("ok")
	l.s.audit(r, session.Event{Type: "login.ok", User: user, Ref: sess.Ref()})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// verdict is the outcome of one password attempt.
type verdict struct {
	ok, legacy bool
	wait       time.Duration // > 0: refused by a limit (by), not checked
	by         string
}

// attempt checks user's password under the limits, counting and auditing
// a failure. A client that signed in as this user before (device cookie)
// is not subject to the per-client and per-user limits, so guessing
// cannot lock the user out; it has its own budget instead (device.go).
func (l *login) attempt(r *http.Request, user, pass string) verdict {
	device, trusted := l.devices.trusted(r, user)
	if !trusted {
		if ok, wait := l.perClient.Take(clientKey(r)); !ok {
			return verdict{wait: wait, by: "client"}
		}
		if user != "" {
			if ok, wait := l.perUser.Take("user:" + user); !ok {
				return verdict{wait: wait, by: "user"}
			}
		}
	}
	ok, legacy := l.s.users.Verify(user, pass)
	if !ok || !wire.ValidUser(user) {
		if trusted && l.devices.failed(device) {
			l.s.audit(r, session.Event{Type: "login.device_locked", User: user})
		}
		l.s.metrics.login("failed")
		l.s.audit(r, session.Event{Type: "login.failed", User: user, Attrs: []slog.Attr{slog.Bool("trusted_device", trusted)}})
		return verdict{}
	}
	return verdict{ok: true, legacy: legacy}
}

func (l *login) limited(w http.ResponseWriter, r *http.Request, next, user string, wait time.Duration, by string) {
	l.s.metrics.login("throttled")
	l.s.audit(r, session.Event{Type: "login.throttled", User: user, Attrs: []slog.Attr{slog.String("by", by)}})
	w.Header().Set("Retry-After", retryAfter(wait))
	l.render(w, r, http.StatusTooManyRequests, next, user, "Too many attempts. Wait a minute and try again.")
}

func (l *login) serveLogout(w http.ResponseWriter, r *http.Request) {
	if !l.s.isSecure(r) && r.Method != http.MethodGet {
		l.insecure(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		errorPage(w, l.s.cfg.Name, http.StatusMethodNotAllowed, "Sign out with the button on your account page (POST).")
		return
	}
	sess := session.FromContext(r.Context())
	user := sess.User()
	l.s.rememberForget(w, r)
	target := "/"
	if l.s.cfg.Inspect {
		// The inspector's notes travel in the URL (inspect reads
		// this one back).
		target = "/?" + signedOutQuery
	}
	if sess.Get(methodKey) != "" {
		// Another method signed the user in: it may send the browser on
		// (the provider's end-session endpoint).
		target = l.s.signOutTarget(w, r, sess, target)
	} else {
		// Clear-Site-Data drops the device cookie: bring it back (device.go).
		target = l.devices.restoreURL(r, target)
	}
	if err := sess.Logout(); err != nil {
		l.s.log.Error("gateway: logout", "err", err)
		errorPage(w, l.s.cfg.Name, http.StatusServiceUnavailable, "Sign-out failed. Please try again.")
		return
	}
	l.s.audit(r, session.Event{Type: "logout", User: user})
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// retryAfter is the Retry-After value for a wait: whole seconds, rounded up
// past the wait so that a client retrying on time is let in.
func retryAfter(wait time.Duration) string {
	return strconv.Itoa(int(wait/time.Second) + 1)
}

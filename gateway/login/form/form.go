// Package form is the gateway's form login (mod_auth_form done safely), one
// login.Method: users from an htpasswd file, session-bound CSRF tokens
// (the site's), per-client and per-user rate limits, device cookies that
// keep a user's known browsers out of those limits, remember-me keys,
// re-authentication on the sessions page, and next= only to a same-site
// relative path.
package form

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/htpasswd"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/internal/ratelimit"
	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

// Claimer remembers one-time tokens (a device cookie's restore link):
// Claim reports whether key is claimed for the first time, and keeps it
// until until.
type Claimer interface {
	Claim(ctx context.Context, key string, until time.Time) (bool, error)
}

// Config configures the form login of one site.
type Config struct {
	// Auth is the site's auth block: login path, rate limits, remember-me.
	Auth config.Auth
	// Users is the site's users file; nil opens Auth.Htpasswd.
	Users *htpasswd.File
	// DeviceKey signs device cookies (at least 32 bytes when device
	// cookies are on, auth.rate_limit.per_device).
	DeviceKey []byte
	// Claims keeps the device cookies' one-time restore links. Required
	// with device cookies.
	Claims Claimer
	// RememberStore keeps remember-me keys; required with
	// Auth.Remember.Enabled.
	RememberStore remember.Store
	// Auditor receives the remember-me key events (remember.*).
	Auditor session.Auditor
	// TrustedProxies judge the client address of remember.* events, as
	// the site's sessions do.
	TrustedProxies []netip.Prefix
	// MaxClients bounds each login limiter (limits.max_clients).
	MaxClients int
}

// Name is the form login's login.Method name.
const Name = "form"

// Method is the form login of one site. Build it with New.
type Method struct {
	s         login.Site
	auth      config.Auth
	users     *htpasswd.File
	perClient *ratelimit.Limiter
	perUser   *ratelimit.Limiter
	devices   *devices   // nil: no device cookies
	remember  *autoLogin // nil: no remember-me
	claims    Claimer
}

var (
	_ login.Reauthenticator = (*Method)(nil)
	_ login.Directory       = (*Method)(nil)
	_ login.Reloader        = (*Method)(nil)
)

// New builds the form login for site. Users removed from cfg.Users by a
// reload have every session revoked and every remember-me key forgotten.
func New(cfg Config, site login.Site) (*Method, error) {
	if cfg.Users == nil {
		if cfg.Auth.Htpasswd == "" {
			return nil, errors.New("form login: no users file (auth.htpasswd)")
		}
		f, err := htpasswd.Open(htpasswd.Config{Path: cfg.Auth.Htpasswd, Logger: site.Logger()})
		if err != nil {
			return nil, err
		}
		for _, w := range f.Warnings() {
			site.Logger().Warn("gateway: users file", "warning", w)
		}
		cfg.Users = f
	}
	m := &Method{s: site, auth: cfg.Auth, users: cfg.Users, claims: cfg.Claims}
	rl := cfg.Auth.RateLimit
	var err1, err2 error
	m.perClient, err1 = newLimiter(rl.PerIP, cfg.MaxClients)
	m.perUser, err2 = newLimiter(rl.PerUser, cfg.MaxClients)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("login rate limit: %w", err)
	}
	d, err := newDevices(site.Name(), cfg.DeviceKey, rl.PerDevice)
	if err != nil {
		return nil, err
	}
	if d != nil && cfg.Claims == nil {
		return nil, errors.New("form login: device cookies need Config.Claims")
	}
	m.devices = d
	if m.remember, err = newAutoLogin(m, cfg); err != nil {
		return nil, err
	}
	cfg.Users.OnChange(m.usersRemoved)
	return m, nil
}

// newLimiter builds a login limiter remembering at most maxKeys clients
// or users; attempts 0 turns it off (nil).
func newLimiter(r config.Rate, maxKeys int) (*ratelimit.Limiter, error) {
	if r.Attempts <= 0 {
		return nil, nil
	}
	return ratelimit.New(ratelimit.Config{Every: r.Every(), Burst: r.Attempts, MaxKeys: max(maxKeys, 0)})
}

// Name implements login.Method.
func (m *Method) Name() string { return Name }

// Routes implements login.Method: the login form, and the device
// cookie's restore link after a logout.
func (m *Method) Routes() []login.Route {
	return []login.Route{
		{Path: m.auth.LoginPath, Handler: http.HandlerFunc(m.serveLogin), Form: true},
		{Path: DeviceRestorePath, Handler: http.HandlerFunc(m.serveRestore)},
	}
}

// Offer implements login.Method: the password form.
func (m *Method) Offer(*http.Request, string) login.Offer {
	return login.Offer{Password: true, Action: m.auth.LoginPath, Remember: m.remember != nil}
}

// Cookies implements login.Method: the device and remember-me cookies.
func (m *Method) Cookies() []string {
	names := []string{DeviceCookieName}
	if m.remember != nil {
		names = append(names, m.remember.m.CookieName())
	}
	return names
}

// HasUser implements login.Directory.
func (m *Method) HasUser(user string) bool { return m.users.Has(user) }

// Reload implements login.Reloader: the users file, if it changed.
func (m *Method) Reload() error { return m.users.Reload() }

// Trusted reports whether r carries a device cookie that vouches for
// user: valid, naming user, not expired, not locked out. Such a client is
// not subject to the per-client and per-user login limits.
func (m *Method) Trusted(r *http.Request, user string) bool {
	_, ok := m.devices.trusted(r, user)
	return ok
}

// clientKey is r's key in the per-client login limiter: its client's
// network (session.ClientPrefix), so that an IPv6 host cannot rotate
// through the addresses of its /64 to reset its budget.
func (m *Method) clientKey(r *http.Request) string {
	a := m.s.ClientIP(r)
	if !a.IsValid() {
		return "ip:" // unknown clients share one budget
	}
	return "ip:" + session.ClientPrefix(a).String()
}

func (m *Method) render(w http.ResponseWriter, r *http.Request, code int, next, user, msg string) {
	m.s.LoginPage(w, r, code, login.Prompt{Next: next, User: user, Error: msg})
}

func (m *Method) serveLogin(w http.ResponseWriter, r *http.Request) {
	sess := session.FromContext(r.Context())
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		m.render(w, r, http.StatusOK, login.SafeNext(r.URL.Query().Get("next")), "", "")
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		m.s.ErrorPage(w, http.StatusMethodNotAllowed, "Sign in with the form on this page.")
		return
	}
	next := login.SafeNext(r.PostFormValue("next"))
	user := r.PostFormValue("username")
	pass := r.PostFormValue("password")
	if len(user) > wire.MaxUserLen {
		// Never a limiter key, a log line or a page echo: an unbounded name
		// would grow memory and the audit log at the client's will.
		m.perClient.Take(m.clientKey(r))
		m.s.Count("failed")
		m.s.Audit(r, session.Event{Type: "login.failed", Attrs: []slog.Attr{slog.Int("user_bytes", len(user))}})
		m.render(w, r, http.StatusUnauthorized, next, "", "Wrong user name or password.")
		return
	}
	v := m.attempt(r, user, pass)
	if v.Wait > 0 {
		m.s.Count("throttled")
		m.s.Audit(r, session.Event{Type: "login.throttled", User: user, Attrs: []slog.Attr{slog.String("by", v.By)}})
		w.Header().Set("Retry-After", login.RetryAfter(v.Wait))
		m.render(w, r, http.StatusTooManyRequests, next, user, "Too many attempts. Wait a minute and try again.")
		return
	}
	if !v.OK {
		m.render(w, r, http.StatusUnauthorized, next, user, "Wrong user name or password.")
		return
	}
	if err := m.s.SignIn(w, r, login.SignIn{User: user, Method: Name, Proven: true}); err != nil {
		m.s.Logger().Error("gateway: login", "err", err)
		m.s.ErrorPage(w, http.StatusInternalServerError, "Sign-in failed. Please try again.")
		return
	}
	m.devices.issue(w, user)
	m.rememberLogin(w, r, user)
	if v.legacy {
		if err := m.users.Upgrade(user, pass); err != nil {
			m.s.Logger().Warn("gateway: legacy password hash kept (could not upgrade to bcrypt)", "user", user, "err", err)
		} else {
			m.s.Logger().Info("gateway: password hash upgraded to bcrypt", "user", user)
		}
	}
	m.perUser.Reset("user:" + user)
	m.s.Count("ok")
	m.s.Audit(r, session.Event{Type: "login.ok", User: user, Ref: sess.Ref()})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// verdict is the outcome of one password attempt.
type verdict struct {
	login.Result
	legacy bool // the hash is a legacy one, to upgrade
}

// attempt checks user's password under the limits, counting and auditing
// a failure. A client that signed in as this user before (device cookie)
// is not subject to the per-client and per-user limits, so guessing
// cannot lock the user out; it has its own budget instead (device.go).
func (m *Method) attempt(r *http.Request, user, pass string) verdict {
	device, trusted := m.devices.trusted(r, user)
	if !trusted {
		if ok, wait := m.perClient.Take(m.clientKey(r)); !ok {
			return verdict{Result: login.Result{Wait: wait, By: "client"}}
		}
		if user != "" {
			if ok, wait := m.perUser.Take("user:" + user); !ok {
				return verdict{Result: login.Result{Wait: wait, By: "user"}}
			}
		}
	}
	ok, legacy := m.users.Verify(user, pass)
	if !ok || !wire.ValidUser(user) {
		if trusted && m.devices.failed(device) {
			m.s.Audit(r, session.Event{Type: "login.device_locked", User: user})
		}
		m.s.Count("failed")
		m.s.Audit(r, session.Event{Type: "login.failed", User: user, Attrs: []slog.Attr{slog.Bool("trusted_device", trusted)}})
		return verdict{}
	}
	return verdict{Result: login.Result{OK: true}, legacy: legacy}
}

// Reauthenticate implements login.Reauthenticator: the password, under
// the login limits.
func (m *Method) Reauthenticate(r *http.Request, user, password string) login.Result {
	return m.attempt(r, user, password).Result
}

// Vouches implements login.Method: a user removed from the users file is
// signed out at their next request (when the file is reloaded, every
// session of each removed user is revoked too).
func (m *Method) Vouches(_ http.ResponseWriter, _ *http.Request, sess *session.Session) (bool, string) {
	return m.users.Has(sess.User()), "session.user_removed"
}

// SignOut implements login.Method: this browser's remember-me key goes;
// the device cookie, which the logout's Clear-Site-Data drops, comes back
// through its restore link.
func (m *Method) SignOut(w http.ResponseWriter, r *http.Request, _ *session.Session, next string) string {
	m.rememberForget(w, r)
	return m.devices.restoreURL(r, next)
}

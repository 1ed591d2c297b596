package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/sessiond/sessiond/csrf"
	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/htpasswd"
	"github.com/sessiond/sessiond/gateway/modcrypto"
	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
)

// csrfField is the form field of the gateway's own CSRF tokens.
const csrfField = "csrf_token"

// SiteConfig is one virtual host of the gateway, already validated and
// resolved (files read, durations parsed): the config file maps onto it.
type SiteConfig struct {
	Name  string
	Hosts []string

	// Backend: exactly one of Upstream, CGIDir, Backend (in-process).
	Upstream  *url.URL
	CGIDir    string
	CGIPrefix string // default "/cgi-bin"
	Backend   http.Handler

	// Sessions is off for the whole site when SessionsOff.
	SessionsOff bool
	// Session is the session configuration; the gateway sets Store/Codec,
	// Auditor, Logger and the redirect URL, and Realm to Name if it is empty:
	// sites share sessions only when they are given the same Realm.
	Session session.Config
	// Include and Exclude are path prefixes where sessions apply
	// (mod_session's SessionInclude/SessionExclude): with Include set,
	// only those; Exclude always wins.
	Include []string
	Exclude []string
	// AuthRequired are path prefixes that need a logged-in user.
	AuthRequired []string
	// Cacheable are path prefixes where a signed-in response keeps the
	// backend's Cache-Control; everywhere else it is forced to
	// "private, no-store" (a shared cache must never keep one user's page).
	Cacheable []string
	// BodyTimeout bounds reading a request's whole body (408 past it);
	// UpstreamHeaderTimeout bounds the wait for an upstream's response
	// headers (504 past it). Defaults 60 s each.
	BodyTimeout           time.Duration
	UpstreamHeaderTimeout time.Duration

	// HTTPSOrigin and HTTPOrigin ("https://shop.example:8443") build every
	// redirect target: never the Host header.
	HTTPSOrigin string
	HTTPOrigin  string
	// Rules for entering and leaving HTTPS. For https-only sites the
	// gateway sends every plain-HTTP request to HTTPS regardless.
	Rules     []secure.Rule
	Overall   secure.Overall
	Permanent bool
	HSTS      secure.HSTS
	RulesHook secure.Hook

	Headers Headers
	// Inspect tells the backend what the gateway did with the session, in
	// the X-Session-Info request header: the transport, the session
	// cookies the request carried (by name), the partition the backend
	// sees, the record's last session events (created, step-up, step-down,
	// fork, regenerate, login, logout) and why the client was just
	// redirected. For demos and debugging; off by default.
	Inspect bool
	// MaxReplaceBytes bounds a backend's X-Replace-Session; a longer one is
	// ignored and logged (default config.DefaultMaxHeaderBytes).
	MaxReplaceBytes int

	// Login at the gateway (mod_auth_form); nil Users disables it.
	Users      *htpasswd.File
	LoginPath  string // default /login
	LogoutPath string // default /logout
	// LoginTemplate overrides the embedded login page.
	LoginTemplate string
	// LoginPerClient and LoginPerUser are the time to earn back one login
	// attempt, per client IP and per user name, and the bursts how many may
	// come at once (defaults: 6s and 10, 12s and 5). A negative duration
	// turns that limit off. LoginMaxClients bounds how many keys each
	// limiter remembers (default 100000).
	LoginPerClient   time.Duration
	LoginPerUser     time.Duration
	LoginClientBurst int
	LoginUserBurst   int
	LoginMaxClients  int
	// DeviceAttempts wrong passwords per DevicePer are allowed with a
	// trusted device cookie (defaults: 10 per hour; negative
	// DeviceAttempts: no device cookies); past them the cookie is locked
	// out for DevicePer and the client counts as untrusted. A
	// client with a device cookie for the user it signs in as is not
	// subject to LoginPerClient and LoginPerUser (device.go).
	DeviceAttempts int
	DevicePer      time.Duration
	// ReauthAfter: this long after the password was last proven, revoking
	// other sessions on the sessions page asks for it again, so a copied
	// cookie alone cannot sign the owner out everywhere. Default 15
	// minutes; negative never asks.
	ReauthAfter time.Duration
	// Remember, if positive, offers "Keep me signed in" on the login form:
	// a ticked login gets a one-time remember-me key (package remember,
	// kept in Config.RememberStore) of this lifetime, which signs the
	// browser in again when its session is gone. Zero: off.
	Remember time.Duration
	// RememberReuseGrace is remember.Config.ReuseGrace.
	RememberReuseGrace time.Duration

	// EnforceOrigin refuses cross-origin unsafe requests to the backend
	// (Go's http.CrossOriginProtection). The gateway's own forms are
	// always protected.
	EnforceOrigin bool
	// TrustedOrigins pass the origin check (e.g. the site's HTTP origin
	// posting to its HTTPS origin).
	TrustedOrigins []string

	// ModCrypto, if set, accepts Apache mod_session_crypto cookies named
	// ModCryptoCookie once and re-issues them as sessiond sessions.
	ModCrypto       *modcrypto.Decoder
	ModCryptoCookie string
	// ModCryptoAuthName is mod_auth_form's AuthName: its session keys are
	// "<AuthName>-user", "<AuthName>-pw" and "<AuthName>-site". Empty
	// matches any AuthName (the one "*-user" key beside a "*-pw" or
	// "*-site" key). The user is signed in only if Users holds it.
	ModCryptoAuthName string
}

// site is a running SiteConfig.
type site struct {
	cfg         SiteConfig
	m           *session.Manager // nil: sessions off for the site
	rules       *secure.Rules
	csrf        *csrf.Protection
	origin      *http.CrossOriginProtection
	backend     http.Handler
	cgi         bool
	login       *login
	cookieNames []string   // session cookies: never forwarded, never set by a backend
	stripNames  []string   // further cookies never forwarded (the Apache cookie being migrated, remember-me)
	remember    *autoLogin // nil: no remember-me
	log         *slog.Logger
	auditor     session.Auditor
	chain       http.Handler // with sessions
	plain       http.Handler // without sessions (off paths)
	metrics     *metrics
	claims      ClaimSet
}

func (c *SiteConfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("site %q: "+format, append([]any{c.Name}, args...)...))
	}
	if len(c.Hosts) == 0 {
		bad("no hosts")
	}
	n := 0
	for _, set := range []bool{c.Upstream != nil, c.CGIDir != "", c.Backend != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		bad("exactly one of upstream, cgi and an in-process backend is needed (got %d)", n)
	}
	if c.Upstream != nil && c.Upstream.Scheme != "http" && c.Upstream.Scheme != "https" {
		bad("upstream %q: scheme must be http or https", c.Upstream)
	}
	for _, p := range append(append(append([]string{}, c.Include...), c.Exclude...), c.AuthRequired...) {
		if !strings.HasPrefix(p, "/") {
			bad("path prefix %q must start with /", p)
		}
	}
	if c.HTTPSOrigin == "" {
		bad("no HTTPS origin to build redirect targets from")
	}
	return errors.Join(errs...)
}

func newSite(cfg SiteConfig, g *Gateway) (*site, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Headers = cfg.Headers.withDefaults()
	if cfg.MaxReplaceBytes <= 0 {
		cfg.MaxReplaceBytes = config.DefaultMaxHeaderBytes
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.UpstreamHeaderTimeout <= 0 {
		cfg.UpstreamHeaderTimeout = DefaultUpstreamHeaderTimeout
	}
	if cfg.CGIPrefix == "" {
		cfg.CGIPrefix = "/cgi-bin"
	}
	if cfg.LoginPath == "" {
		cfg.LoginPath = "/login"
	}
	if cfg.LogoutPath == "" {
		cfg.LogoutPath = "/logout"
	}
	if cfg.ReauthAfter == 0 {
		cfg.ReauthAfter = 15 * time.Minute
	}
	s := &site{cfg: cfg, log: g.log.With("site", cfg.Name), auditor: g.auditor, metrics: g.metrics, claims: g.claims}
	switch {
	case cfg.Upstream != nil:
		s.backend = newProxy(cfg.Name, cfg.Upstream, s.log, cfg.UpstreamHeaderTimeout)
	case cfg.CGIDir != "":
		s.backend = &cgiBackend{dir: cfg.CGIDir, prefix: strings.TrimSuffix(cfg.CGIPrefix, "/"), log: s.log}
		s.cgi = true
	default:
		s.backend = cfg.Backend
	}

	// Redirect rules: an HTTPS-only site (or one with sessions off) sends
	// plain HTTP to HTTPS unless the rules say otherwise.
	overall := cfg.Overall
	if !cfg.SessionsOff && cfg.Session.Mode == session.HTTPSOnly && overall == secure.ByRules && len(cfg.Rules) == 0 {
		overall = secure.Always
	}
	rules, err := secure.New(secure.Config{Overall: overall, Rules: cfg.Rules, Hook: cfg.RulesHook,
		HTTPSOrigin: cfg.HTTPSOrigin, HTTPOrigin: cfg.HTTPOrigin, Permanent: cfg.Permanent, HSTS: cfg.HSTS,
		IsSecure: s.isSecure})
	if err != nil {
		return nil, fmt.Errorf("site %q: %w", cfg.Name, err)
	}
	s.rules = rules

	if !cfg.SessionsOff {
		sc := cfg.Session
		if sc.Realm == "" {
			sc.Realm = cfg.Name // every site is its own realm unless told otherwise
		}
		sc.Store, sc.Codec = g.store, g.codec
		if sc.TrustedProxies == nil {
			sc.TrustedProxies = g.trusted
		}
		if sc.Locator == nil {
			sc.Locator = g.locator
		}
		sc.Auditor, sc.Logger = g.auditor, s.log
		if sc.ErrorHandler == nil {
			sc.ErrorHandler = sessionErrors(cfg.Name)
		}
		if g.unknown != nil {
			sc.UnknownIDs = g.unknown // one count per gateway, not per site
		}
		if sc.StaySecure && sc.HTTPSURL == nil {
			sc.HTTPSURL = rules.SecureURL
		}
		m, err := session.New(sc)
		if err != nil {
			return nil, fmt.Errorf("site %q: %w", cfg.Name, err)
		}
		s.m = m
		eff := m.Config().Cookie
		s.cookieNames = []string{eff.Name}
		if eff.SecureName != "" {
			s.cookieNames = append(s.cookieNames, eff.SecureName)
		}
		if cfg.ModCrypto != nil {
			if cfg.ModCryptoCookie == "" {
				return nil, fmt.Errorf("site %q: ModCrypto needs ModCryptoCookie", cfg.Name)
			}
			s.stripNames = append(s.stripNames, cfg.ModCryptoCookie)
		}
	}
	// The gateway's own forms (login, logout, the sessions page) use
	// session-bound tokens; proxied requests get the origin check if asked.
	p, err := csrf.New(csrf.Config{
		TrustedOrigins: cfg.TrustedOrigins,
		SessionKey:     internalPrefix + "csrf",
		FieldName:      csrfField,
		Auditor:        g.auditor,
		Session: func(r *http.Request) csrf.Store {
			if s := session.FromContext(r.Context()); s != nil {
				return s
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("site %q: %w", cfg.Name, err)
	}
	s.csrf = p
	if cfg.EnforceOrigin {
		s.origin = http.NewCrossOriginProtection()
		for _, o := range cfg.TrustedOrigins {
			if err := s.origin.AddTrustedOrigin(o); err != nil {
				return nil, fmt.Errorf("site %q: trusted origin: %w", cfg.Name, err)
			}
		}
	}
	if cfg.Users != nil {
		if s.remember, err = newAutoLogin(s, g.rememberStore, g.auditor); err != nil {
			return nil, err
		}
		if s.remember != nil {
			s.stripNames = append(s.stripNames, s.remember.m.CookieName())
		}
		if s.login, err = newLogin(s, g.deviceKey); err != nil {
			return nil, fmt.Errorf("site %q: %w", cfg.Name, err)
		}
		s.cookieNames = append(s.cookieNames, deviceCookieName)
		if s.m != nil {
			cfg.Users.OnChange(s.revokeRemoved)
		}
	}
	inner := http.HandlerFunc(s.serveInner)
	if s.m != nil {
		s.chain = s.m.Handler(rules.Handler(inner))
	}
	s.plain = rules.Handler(http.HandlerFunc(s.serveBackend))
	return s, nil
}

// isSecure reports whether r came over HTTPS: directly, or from a trusted
// proxy that says so (Session.TrustedProxies).
func (s *site) isSecure(r *http.Request) bool {
	if s.m != nil {
		return s.m.IsSecure(r)
	}
	return requestSecure(r)
}

// sessionPath applies Include/Exclude.
func (s *site) sessionPath(p string) bool {
	for _, e := range s.cfg.Exclude {
		if hasPathPrefix(p, e) {
			return false
		}
	}
	if len(s.cfg.Include) == 0 {
		return true
	}
	for _, i := range s.cfg.Include {
		if hasPathPrefix(p, i) {
			return true
		}
	}
	return false
}

func hasPathPrefix(p, prefix string) bool { return secure.PathHasPrefix(p, prefix) }

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Paths are judged canonical: include/exclude, auth_required and the
	// redirect rules below all see the path the backend will resolve.
	if secure.Canonicalize(w, r) {
		return
	}
	r = limitBody(w, r, s.cfg.BodyTimeout)
	s.cfg.Headers.stripSpoofed(r.Header)
	if s.cfg.Inspect {
		w, r = s.inspect(w, r)
	}
	if s.m == nil || !s.sessionPath(r.URL.Path) {
		removeCookies(r.Header, append(s.cookieNames, s.stripNames...))
		s.plain.ServeHTTP(w, r)
		return
	}
	s.chain.ServeHTTP(w, r)
}

// serveBackend serves paths without sessions: origin checks, then the backend.
func (s *site) serveBackend(w http.ResponseWriter, r *http.Request) {
	if !s.checkOrigin(w, r) {
		return
	}
	stripForward(r.Header, s.cgi)
	if s.cfg.Inspect {
		r.Header.Set(s.cfg.Headers.Info, s.infoHeader(r, nil, nil))
	}
	s.callBackend(w, r, nil)
}

func (s *site) serveInner(w http.ResponseWriter, r *http.Request) {
	defer func() { noteSession(r, session.FromContext(r.Context())) }() // the access log's Ref and user
	if s.cfg.ModCrypto != nil {
		s.migrateApache(w, r)
	}
	s.signOutRemoved(r, session.FromContext(r.Context()))
	s.rememberSignIn(w, r, session.FromContext(r.Context()))
	p := r.URL.Path
	if s.login != nil && (p == s.cfg.LoginPath || p == s.cfg.LogoutPath) && !s.isSecure(r) {
		s.login.insecure(w, r) // before anything reads a body sent in the clear
		return
	}
	if s.login != nil {
		switch p {
		case s.cfg.LoginPath:
			s.csrf.Handler(http.HandlerFunc(s.login.serveLogin)).ServeHTTP(w, r)
			return
		case s.cfg.LogoutPath:
			s.csrf.Handler(http.HandlerFunc(s.login.serveLogout)).ServeHTTP(w, r)
			return
		case deviceRestorePath:
			s.login.serveRestore(w, r)
			return
		}
	}
	if strings.HasPrefix(p, sessionsPage) {
		s.csrf.Handler(http.HandlerFunc(s.serveSessionsPage)).ServeHTTP(w, r)
		return
	}
	sess := session.FromContext(r.Context())
	for _, prefix := range s.cfg.AuthRequired {
		if hasPathPrefix(p, prefix) && sess.User() == "" {
			s.requireLogin(w, r)
			return
		}
	}
	if !s.checkOrigin(w, r) {
		return
	}
	s.forward(w, r)
}

// checkOrigin applies the cross-origin check to unsafe proxied requests
// (when enabled) and to every WebSocket handshake.
func (s *site) checkOrigin(w http.ResponseWriter, r *http.Request) bool {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		origin := r.Header.Get("Origin")
		u, err := url.Parse(origin)
		if origin == "" || err != nil || !strings.EqualFold(u.Host, r.Host) {
			s.audit(r, session.Event{Type: "websocket.cross_origin"})
			http.Error(w, "Cross-origin WebSocket refused.", http.StatusForbidden)
			return false
		}
	}
	if s.origin != nil {
		if err := s.origin.Check(r); err != nil {
			s.audit(r, session.Event{Type: "csrf.refused", Attrs: []slog.Attr{slog.String("reason", "cross-origin"),
				slog.String("method", r.Method), slog.String("path", r.URL.Path)}})
			errorPage(w, s.cfg.Name, http.StatusForbidden, "Cross-origin request refused: this form was sent from another site.")
			return false
		}
	}
	return true
}

// requireLogin sends the client to the login page (on HTTPS) with a
// validated next=.
func (s *site) requireLogin(w http.ResponseWriter, r *http.Request) {
	if s.login == nil {
		errorPage(w, s.cfg.Name, http.StatusUnauthorized, "Login required.")
		return
	}
	target := s.cfg.HTTPSOrigin + s.cfg.LoginPath + "?next=" + url.QueryEscape(r.URL.RequestURI())
	setWhy(r, "auth") // noted even over HTTPS: the login page says why
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, redirectCode(r.Method))
}

func (s *site) audit(r *http.Request, e session.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.IP == "" {
		e.IP = clientAddr(r)
	}
	if e.UserAgent == "" {
		e.UserAgent = r.UserAgent()
	}
	s.auditor.Audit(r.Context(), e)
}

// peer is what the gateway concluded about a request that came through a
// trusted proxy (Config.TrustedProxies): the client's address and whether
// it used HTTPS. Requests without one are judged by the connection alone.
type peer struct {
	ip     netip.Addr
	secure bool
}

type peerKey struct{}

// clientAddr is the client's IP address as text: the connection's peer,
// or what a trusted proxy said (session.ClientIP).
func clientAddr(r *http.Request) string {
	if p, ok := r.Context().Value(peerKey{}).(peer); ok {
		if !p.ip.IsValid() {
			return ""
		}
		return p.ip.String()
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// requestSecure reports whether the client used HTTPS: the connection,
// or what a trusted proxy said (session.IsSecureRequest).
func requestSecure(r *http.Request) bool {
	if p, ok := r.Context().Value(peerKey{}).(peer); ok {
		return p.secure
	}
	return r.TLS != nil
}

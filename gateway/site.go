package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sessiond/sessiond/csrf"
	"github.com/sessiond/sessiond/gateway/accesslog"
	"github.com/sessiond/sessiond/gateway/admin"
	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/forwardauth"
	"github.com/sessiond/sessiond/gateway/inspect"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/migrate"
	"github.com/sessiond/sessiond/gateway/upstream"
	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

// csrfField is the form field of the gateway's own CSRF tokens.
const csrfField = "csrf_token"

// site is a running config.Site: the gateway builds it from the site's
// configuration alone (library configurations from config's SessionConfig
// and SecureConfig), loading the files it names once, here.
type site struct {
	cfg         *config.Site
	headers     wire.Headers // the protocol's header names, canonical
	httpsOrigin string       // "https://shop.example:8443": every redirect target starts here
	httpOrigin  string
	ruleList    []secure.Rule     // the redirect rules, for inspection
	migrate     *migrate.Migrator // nil: no Apache sessions to import
	m           *session.Manager  // nil: sessions off for the site
	rules       *secure.Rules
	csrf        *csrf.Protection
	backend     http.Handler
	cgi         bool
	cookieNames []string               // session cookies: never forwarded, never set by a backend
	stripNames  []string               // further cookies never forwarded (the Apache cookie being migrated, the login methods')
	methods     []login.Method         // the ways users sign in here, in the login page's order
	routes      map[string]login.Route // the methods' routes by path (the first method's wins)
	loginCookie []string               // the methods' cookies
	log         *slog.Logger
	auditor     session.Auditor
	chain       http.Handler // with sessions
	plain       http.Handler // without sessions (off paths)
	metrics     *admin.Metrics
	claims      State                // one-time claims (migrated Apache cookies, device restores)
	trusted     []netip.Prefix       // the gateway's trusted_proxies
	pages       sitePages            // the sign-in, sessions and error pages
	insp        *inspect.Inspector   // nil: inspection off
	userPage    http.Handler         // the sessions page
	fa          *forwardauth.Handler // forward-auth sites only
}

// newBackend is the site's backend: in-process (Site.Handler), upstream,
// CGI scripts or static files; none for forward auth (forwardauth.go).
func (s *site) newBackend() (http.Handler, error) {
	sc := s.cfg
	switch {
	case sc.Handler != nil:
		return sc.Handler, nil
	case sc.Upstream != "":
		u, err := url.Parse(sc.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("upstream %q: not an http or https URL", sc.Upstream)
		}
		return newProxy(s.pages, u, s.log, sc.Timeouts.UpstreamHeader)
	case sc.CGI != nil:
		s.cgi = true
		return upstream.NewCGI(upstream.CGIConfig{Dir: sc.CGI.Dir, Prefix: sc.CGI.Prefix, Forwarded: forwarded, Logger: s.log})
	case sc.Static != nil:
		return upstream.Static(sc.Static.Dir, sc.Static.Prefix), nil
	case sc.ForwardAuth != nil:
		s.fa = s.newForwardAuth()
		return http.HandlerFunc(s.fa.NoBackend), nil
	}
	return nil, errors.New("no backend: upstream, cgi, static or an in-process handler")
}

// loadFiles opens the Apache passphrases the site's configuration names.
func (s *site) loadFiles() (err error) {
	if mc := s.cfg.ModCrypto; mc != nil && s.cfg.Session.Mode != config.ModeOff {
		if s.migrate, err = s.newMigrator(); err != nil {
			return err
		}
		s.stripNames = append(s.stripNames, mc.CookieName)
	}
	return nil
}

func newSite(sc *config.Site, g *Gateway) (*site, error) {
	s := &site{cfg: sc, log: g.log.With("site", sc.Name), auditor: g.auditor, metrics: g.metrics, claims: g.claims,
		trusted: g.trusted}
	s.pages = sitePages{name: sc.Name, set: sc.Pages.Set, log: s.log}
	if own := sc.Pages.Set.Custom(); len(own) > 0 {
		s.log.Info("gateway: own page templates", "dir", sc.Pages.TemplatesDir, "pages", slices.Sorted(maps.Keys(own)))
	}
	s.headers = siteHeaders(sc.Headers)
	var err error
	if s.backend, err = s.newBackend(); err != nil {
		return nil, err
	}
	if err := s.loadFiles(); err != nil {
		return nil, err
	}

	sec := sc.SecureConfig()
	sec.IsSecure = s.isSecure
	s.httpsOrigin, s.httpOrigin, s.ruleList = sec.HTTPSOrigin, sec.HTTPOrigin, sec.Rules
	if s.rules, err = secure.New(sec); err != nil {
		return nil, err
	}
	if c, ok := sc.SessionConfig(); ok {
		c.Store, c.Codec = g.store, g.codec
		c.TrustedProxies, c.Locator = g.trusted, g.locator
		c.Auditor, c.Logger = g.auditor, s.log
		c.ErrorHandler = sessionErrors(s.pages)
		c.UnknownIDs = g.unknown // one count per gateway, not per site
		if c.StaySecure {
			c.HTTPSURL = s.rules.SecureURL
		}
		if s.m, err = session.New(c); err != nil {
			return nil, err
		}
		eff := s.m.Config().Cookie
		s.cookieNames = []string{eff.Name}
		if eff.SecureName != "" {
			s.cookieNames = append(s.cookieNames, eff.SecureName)
		}
	}
	if sc.Inspect {
		s.insp = inspect.New(inspect.Config{HTTPSOrigin: s.httpsOrigin, HTTPOrigin: s.httpOrigin,
			Rules: s.rules, RuleList: s.ruleList, IsSecure: s.isSecure, Manager: s.m})
	}
	// The gateway's own forms (login, logout, the sessions page) use
	// session-bound tokens; proxied requests get the origin check if asked.
	trusted := sc.TrustedOrigins()
	s.csrf, err = csrf.New(csrf.Config{
		TrustedOrigins: trusted,
		SessionKey:     internalPrefix + "csrf",
		FieldName:      csrfField,
		DenyHandler:    http.HandlerFunc(s.pages.csrfRefused),
		Auditor:        g.auditor,
		TrustedProxies: g.trusted, // the client judged as everywhere else (clientAddr, requestSecure)
		Session: func(r *http.Request) csrf.Store {
			if s := session.FromContext(r.Context()); s != nil {
				return s
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	ms, err := s.newMethods(g)
	if err != nil {
		return nil, err
	}
	s.useMethods(ms...)
	s.userPage = s.newUserPage()
	inner := http.HandlerFunc(s.serveInner)
	if s.m != nil {
		s.chain = s.m.Handler(s.rules.Handler(inner))
	}
	s.plain = s.rules.Handler(http.HandlerFunc(s.serveBackend))
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

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Paths are judged canonical: include/exclude, auth_required and the
	// redirect rules below all see the path the backend will resolve (no
	// dot segments, no ";" parameters), and match it as the backend
	// would (config.Site.Paths: in any case, /private.json as /private).
	if secure.Canonicalize(w, r) {
		return
	}
	r = upstream.LimitBody(w, r, upstream.BodyLimit{Initial: s.cfg.Timeouts.RequestBody, MinRate: int64(s.cfg.Timeouts.RequestBodyMinRate)})
	if s.isAuthRequest(r) {
		r = s.fa.Keep(r) // before the forwarding headers go
	}
	stripSpoofed(s.headers, r.Header)
	if s.cfg.Inspect {
		w, r = s.insp.Start(w, r)
	}
	if s.m == nil || !s.cfg.InSession(r.URL.Path) {
		session.RemoveCookies(r.Header, append(s.cookieNames, s.stripNames...)...)
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
		r.Header.Set(s.headers.Info, s.insp.Info(r, nil, nil))
	}
	s.callBackend(w, r, nil)
}

func (s *site) serveInner(w http.ResponseWriter, r *http.Request) {
	defer func() { accesslog.NoteSession(r, session.FromContext(r.Context())) }() // the access log's Ref and user
	if s.migrate != nil {
		s.migrate.Serve(w, r)
	}
	s.vouch(w, r, session.FromContext(r.Context()))
	if s.serveLogin(w, r) {
		return
	}
	p := r.URL.Path
	if strings.HasPrefix(p, sessionsPage) {
		s.userPage.ServeHTTP(w, r)
		return
	}
	if s.isAuthRequest(r) {
		s.fa.ServeHTTP(w, r)
		return
	}
	sess := session.FromContext(r.Context())
	for _, prefix := range s.cfg.AuthRequired {
		if s.cfg.Paths().Match(p, prefix) && sess.User() == "" {
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
	if err := s.csrf.CheckWebSocket(r); err != nil {
		s.audit(r, session.Event{Type: "websocket.cross_origin"})
		http.Error(w, "Cross-origin WebSocket refused.", http.StatusForbidden)
		return false
	}
	if s.cfg.CSRF.EnforceOrigin {
		if err := s.csrf.CheckOrigin(r); err != nil {
			s.audit(r, session.Event{Type: "csrf.refused", Attrs: []slog.Attr{slog.String("reason", "cross-origin"),
				slog.String("method", r.Method), slog.String("path", r.URL.Path)}})
			s.pages.error(w, http.StatusForbidden, "Cross-origin request refused: this form was sent from another site.")
			return false
		}
	}
	return true
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

// clientAddr is the client's IP address as text ("" if unknown): what a
// trusted proxy said, judged once per request, or the connection's peer;
// both by session.ClientIP.
func clientAddr(r *http.Request) string {
	if p, ok := r.Context().Value(peerKey{}).(peer); ok {
		if !p.ip.IsValid() {
			return ""
		}
		return p.ip.String()
	}
	if ip := session.ClientIP(r, nil); ip.IsValid() {
		return ip.String()
	}
	return ""
}

// requestSecure reports whether the client used HTTPS: the connection,
// or what a trusted proxy said (session.IsSecureRequest).
func requestSecure(r *http.Request) bool {
	if p, ok := r.Context().Value(peerKey{}).(peer); ok {
		return p.secure
	}
	return r.TLS != nil
}

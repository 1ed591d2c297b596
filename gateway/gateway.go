// Package gateway is sessiond's reverse proxy: it gives any backend — PHP,
// Python, Node, a CGI script, a static site — the same secure sessions,
// passed through headers (package wire, the gateway protocol): the session and
// identity go to the backend as request headers, updates come back as
// response headers that the client never sees, and session cookies never
// reach the backend.
//
// Lifecycle, Caddy-style: the config file is parsed and validated
// (gateway/config), resolved into a Config, New provisions every site, and
// Serve runs the listeners until its context ends (graceful shutdown).
package gateway

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sessiond/sessiond/internal/tick"

	"github.com/sessiond/sessiond/remember"

	"github.com/sessiond/sessiond/gateway/accesslog"
	"github.com/sessiond/sessiond/gateway/admin"
	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/htpasswd"
	"github.com/sessiond/sessiond/gateway/listen"
	"github.com/sessiond/sessiond/session"
)

// Runtime is what a gateway needs beyond its configuration: what the
// file names but only the caller opens and closes (the store, GeoIP
// database, log destinations), and what cannot be written in it.
type Runtime struct {
	// Store (server-side sessions) or Codec (cookie sessions), shared by
	// every site: exactly one.
	Store session.Store
	Codec session.CookieCodec

	// State keeps the gateway's own state beside the sessions: one-time
	// claims (migrated Apache cookies, so that a replayed copy is refused
	// after a restart too) and the device-cookie key. Required; every
	// store package's handle is one.
	State State

	// RememberStore keeps the remember-me keys of sites with
	// auth.remember enabled.
	RememberStore remember.Store

	// Locator, if set, fills the Area of listed sessions (GeoIP).
	Locator session.Locator

	// AccessLog, if set, gets one line per request in the configured
	// access_log.format. Sessions are named by Ref, never by ID.
	AccessLog io.Writer

	Logger  *slog.Logger
	Auditor session.Auditor
}

// Gateway routes requests to sites by host name. It is safe for concurrent use.
type Gateway struct {
	sites         map[string]*site
	order         []*site
	store         session.Store
	codec         session.CookieCodec
	admin         *session.Manager
	realms        map[string]*session.Manager // a Manager of each realm, for the admin API
	token         string
	log           *slog.Logger
	auditor       session.Auditor
	rememberStore remember.Store
	metrics       *admin.Metrics
	unknown       *session.UnknownIDLimiter
	trusted       []netip.Prefix
	locator       session.Locator
	access        *accesslog.Log // nil: no access log
	// metricsPath is listen.admin.metrics_path ("" serves none).
	metricsPath string
	// maxClients bounds each login limiter (limits.max_clients).
	maxClients int
	// deviceKey signs device cookies (device.go): a secret of the State,
	// so it survives restarts and is shared by gateways.
	deviceKey []byte
	claims    State
}

// New runs cfg: a configuration from config.Load, or built in code from
// config.Default and config.DefaultSite and checked with Validate. Each
// site is built from its config.Site alone; the files it names (users,
// Apache passphrases) are read here.
func New(cfg *config.Config, rt Runtime) (*Gateway, error) {
	if rt.State == nil {
		return nil, errors.New("gateway: Runtime.State is required (the store's claims and secrets)")
	}
	g := &Gateway{sites: map[string]*site{}, store: rt.Store, codec: rt.Codec, token: cfg.Listen.Admin.Token.Reveal(),
		log: rt.Logger, metrics: admin.NewMetrics(), metricsPath: cfg.Listen.Admin.MetricsPath,
		trusted: cfg.Prefixes(), locator: rt.Locator, maxClients: cfg.Limits.MaxClients,
		unknown: session.NewUnknownIDLimiter(max(cfg.Limits.UnknownIDs.PerMinute(), 0)),
		claims:  rt.State, rememberStore: rt.RememberStore}
	if rt.AccessLog != nil {
		g.access = accesslog.New(rt.AccessLog, cfg.AccessLog.Format == "json")
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	g.metrics.StoreGC(rt.Store)
	g.auditor = g.metrics.Auditor(rt.Auditor)
	if rt.Auditor == nil {
		a := session.NewJSONAuditor()
		a.MinLevel = slog.LevelInfo // the gateway's audit log keeps the lifecycle too
		g.auditor = g.metrics.Auditor(a)
	}
	// The admin API's Manager: the store's GC, and the check that exactly
	// one of Store and Codec is given.
	am, err := session.New(session.Config{Store: rt.Store, Codec: rt.Codec, Auditor: g.auditor, Logger: g.log,
		UnknownIDs: g.unknown, Locator: rt.Locator, TrustedProxies: g.trusted})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.admin = am
	g.deviceKey = g.loadDeviceKey(rt.State)
	var errs []error
	for i := range cfg.Sites {
		sc := &cfg.Sites[i]
		s, err := newSite(sc, g)
		if err != nil {
			errs = append(errs, fmt.Errorf("site %q: %w", sc.Name, err))
			continue
		}
		for _, h := range sc.Hosts {
			h = strings.ToLower(h)
			if _, dup := g.sites[h]; dup {
				errs = append(errs, fmt.Errorf("gateway: host %q is in two sites", h))
			}
			g.sites[h] = s
		}
		g.order = append(g.order, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := g.indexRealms(); err != nil {
		return nil, err
	}
	return g, nil
}

// loadDeviceKey reads (or creates) the device-cookie key in the State.
// If the store cannot be reached at start it uses a key for this process
// only: device cookies then stop being trusted at the next restart, and
// those clients fall back to the per-user limit until they sign in again.
func (g *Gateway) loadDeviceKey(st State) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	key, err := st.Secret(ctx, "device-cookie")
	if err == nil && len(key) >= 32 {
		return key
	}
	g.log.Warn("gateway: device-cookie key not kept in the store; using one for this process", "err", err)
	key = make([]byte, 32)
	rand.Read(key)
	return key
}

// SiteCount is the number of configured sites.
func (g *Gateway) SiteCount() int { return len(g.order) }

// indexRealms keeps one Manager per realm for the admin API and refuses a
// realm shared by sites of different modes: an HTTPS-only site must never
// accept a session that has been on plain HTTP.
func (g *Gateway) indexRealms() error {
	g.realms = map[string]*session.Manager{}
	modeOf := map[string]*site{}
	for _, s := range g.order {
		if s.m == nil {
			continue
		}
		c := s.m.Config()
		if first, ok := modeOf[c.Realm]; ok {
			if fm := first.m.Config().Mode; fm != c.Mode {
				return fmt.Errorf("gateway: realm %q is shared by %s site %q and %s site %q; an HTTPS-only site must never accept a session that has been on plain HTTP",
					c.Realm, fm, first.cfg.Name, c.Mode, s.cfg.Name)
			}
			continue
		}
		modeOf[c.Realm] = s
		g.realms[c.Realm] = s.m
	}
	return nil
}

// ServeHTTP routes by Host to a site; an unknown host gets 421.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	s, ok := g.sites[strings.TrimSuffix(host, ".")]
	if !ok {
		s, ok = g.authSite(r)
	}
	if !ok {
		http.Error(w, "No site is configured for this host name.", http.StatusMisdirectedRequest)
		return
	}
	start := time.Now()
	rec := &accesslog.Recorder{ResponseWriter: w}
	if len(g.trusted) > 0 {
		// Judge the peer once: every later use of the client's address or
		// transport (limits, audit, backend headers) reads this.
		r = r.WithContext(context.WithValue(r.Context(), peerKey{}, peer{
			ip: session.ClientIP(r, g.trusted), secure: session.IsSecureRequest(r, g.trusted)}))
	}
	var entry *accesslog.Entry
	if g.access != nil {
		r, entry = accesslog.WithEntry(r)
	}
	s.ServeHTTP(rec, r)
	g.metrics.Request(s.cfg.Name, rec.Code, time.Since(start))
	if entry != nil {
		g.access.Write(r, s.cfg.Name, clientAddr(r), requestSecure(r), entry, rec.Code, rec.N, start)
	}
}

// RunGC runs the store's garbage collection, and the sweep of expired
// remember-me keys, every interval (0: session.DefaultGCInterval) until
// ctx ends.
func (g *Gateway) RunGC(ctx context.Context, every time.Duration) {
	if g.rememberStore != nil {
		go g.sweepRemember(ctx, cmp.Or(every, session.DefaultGCInterval))
	}
	g.admin.RunGC(ctx, every)
}

// sweepRemember deletes expired remember-me keys every interval.
func (g *Gateway) sweepRemember(ctx context.Context, every time.Duration) {
	tick.Every(ctx, every, func(now time.Time) {
		n, err := g.rememberStore.GC(ctx, now)
		if err != nil && ctx.Err() == nil {
			g.log.Error("gateway: sweeping expired remember-me keys", "err", err)
		} else if n > 0 {
			g.log.Debug("gateway: expired remember-me keys swept", "deleted", n)
		}
	})
}

// Listeners says where Serve listens. Empty addresses are not served.
type Listeners struct {
	HTTP, HTTPS, Admin string
	TLS                *tls.Config
	// Handler, if set, serves the HTTP and HTTPS listeners instead of the
	// gateway itself: a wrapper around it (the demo's sniffer page), or a
	// switch between configurations (reload).
	Handler http.Handler
	// AdminHandler, if set, serves the admin listener instead of
	// AdminHandler().
	AdminHandler http.Handler
	// External says the caller runs RunBackground for the gateways behind
	// Handler (reload replaces them); Serve then runs it for none.
	External bool
	// Ready, if set, is called with the bound addresses once listening.
	Ready func(http, https, admin net.Addr)
	// OnServe, if set, is called once listening with a function that
	// moves the listeners to new addresses while serving (a reload): every
	// new address is bound first, so on an error nothing changed; a moved
	// listener finishes its in-flight requests before it closes. An empty
	// address closes that listener; HTTPS needs TLS set.
	OnServe func(rebind func(http, https, admin string) ([3]net.Addr, error))
	// ProxyProtocol says which of the HTTP and HTTPS listeners expect a
	// PROXY protocol header (v1 or v2) on every connection: accepted only
	// from a trusted proxy (TrustedProxies, judged by session.TrustedPeer
	// when the connection is accepted), whose header's source address is
	// then the connection's peer (r.RemoteAddr) for everything. Any other
	// peer's connection is closed before HTTP; a trusted peer without a
	// header is refused too. Fixed for the listeners' lifetime.
	ProxyProtocol [2]bool
	// TrustedProxies, if set, gives the trusted proxies at each connection
	// to a PROXY protocol listener (a reload may change them). Default:
	// the gateway's trusted_proxies.
	TrustedProxies func() []netip.Prefix
	// ReadHeaderTimeout and IdleTimeout bound a client's connection
	// (defaults config.DefaultReadHeaderTimeout and DefaultIdleTimeout).
	// Request bodies are bounded per site (timeouts.request_body).
	ReadHeaderTimeout, IdleTimeout time.Duration
}

// Serve runs the listeners until ctx ends, then shuts down gracefully
// (in-flight requests get up to 10 s).
func (g *Gateway) Serve(ctx context.Context, l Listeners) error {
	var front http.Handler = g
	if l.Handler != nil {
		front = l.Handler
	}
	admin := l.AdminHandler
	if admin == nil {
		admin = g.AdminHandler()
	}
	if l.TrustedProxies == nil {
		l.TrustedProxies = g.TrustedProxies
	}
	ls := listen.New(listen.Config{Handler: [3]http.Handler{front, front, admin}, TLS: [3]*tls.Config{nil, l.TLS, nil},
		ProxyProtocol: l.ProxyProtocol, TrustedProxies: l.TrustedProxies, Logger: g.log,
		ReadHeaderTimeout: l.ReadHeaderTimeout, IdleTimeout: l.IdleTimeout})
	bound, err := ls.Bind([3]string{l.HTTP, l.HTTPS, l.Admin})
	if err != nil {
		return err
	}
	if l.Ready != nil {
		l.Ready(bound[0], bound[1], bound[2])
	}
	if l.OnServe != nil {
		l.OnServe(func(http, https, admin string) ([3]net.Addr, error) {
			return ls.Bind([3]string{http, https, admin})
		})
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if !l.External {
		go g.watchUsers(watchCtx, htpasswd.DefaultCheckInterval)
	}
	select {
	case <-ctx.Done():
	case err = <-ls.Err():
	}
	ls.ShutdownAll()
	return err
}

// RunBackground runs the gateway's periodic work — garbage collection of
// the store every gcEvery, the users files' watch — until ctx ends.
func (g *Gateway) RunBackground(ctx context.Context, gcEvery time.Duration) {
	go g.watchUsers(ctx, htpasswd.DefaultCheckInterval)
	g.RunGC(ctx, gcEvery)
}

// TrustedProxies are the configured trusted_proxies.
func (g *Gateway) TrustedProxies() []netip.Prefix { return g.trusted }

package config

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

// Config is the whole gateway configuration. Start from Default (and
// DefaultSite for each site) when building one in code, then call Validate.
// A Config is plain data: safe to read from many goroutines once Load or
// Validate has returned, not safe to change while others read it.
type Config struct {
	Listen Listen `yaml:"listen"`
	// TrustedProxies are the peers (load balancers, TLS terminators) whose
	// X-Forwarded-For and X-Forwarded-Proto are believed, as CIDR
	// prefixes or single addresses: [10.0.0.0/8, 192.0.2.7]. Everywhere
	// the gateway uses a client address (login limits, unknown-ID limit,
	// audit, binding, access log, X-Forwarded-For to the backend) or the
	// transport (secure cookies, redirects), a request from one of them is
	// judged by those headers, each read from the right (the value the
	// proxy added; what the client wrote to its left is ignored); from any
	// other peer they are ignored and dropped. Default: none.
	TrustedProxies []IPPrefix `yaml:"trusted_proxies"`
	// GeoIP fills the Area column of the sessions page and admin API.
	GeoIP     *GeoIP    `yaml:"geoip"`
	Store     Store     `yaml:"store"`
	Audit     Audit     `yaml:"audit"`
	AccessLog AccessLog `yaml:"access_log"`
	Limits    Limits    `yaml:"limits"`
	// Pages are every site's sign-in, sessions and error pages, unless a
	// site sets its own.
	Pages Pages  `yaml:"pages"`
	Sites []Site `yaml:"sites"`

	src *source
}

// IPPrefix is a CIDR prefix; a single address means just that address.
type IPPrefix struct{ netip.Prefix }

// UnmarshalText parses "10.0.0.0/8" or "192.0.2.7".
func (p *IPPrefix) UnmarshalText(b []byte) error {
	s := string(b)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("%q is not an IP address or CIDR prefix", s)
		}
		p.Prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		return nil
	}
	pr, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("%q is not a CIDR prefix like 10.0.0.0/8", s)
	}
	if pr.Masked() != pr {
		return fmt.Errorf("%q has bits set past the prefix length; write %s", s, pr.Masked())
	}
	p.Prefix = pr
	return nil
}

// Prefixes returns the configured prefixes as the library takes them.
func (c *Config) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.TrustedProxies {
		out = append(out, p.Prefix)
	}
	return out
}

// GeoIP is a MaxMind DB (GeoLite2/GeoIP2 City or Country, .mmdb).
type GeoIP struct {
	// Database is the .mmdb file, read into memory at start and on reload.
	Database string `yaml:"database"`
	// Language of city names ("de", "fr", ...). Default "en".
	Language string `yaml:"language"`
	// LocalNetworks also looks up loopback and private addresses, for a
	// database that names internal networks ("office VPN"); their city
	// name alone is the area.
	LocalNetworks bool `yaml:"local_networks"`
}

// Listen holds the gateway's listeners.
type Listen struct {
	HTTP     HTTPListener   `yaml:"http"`
	HTTPS    HTTPSListener  `yaml:"https"`
	Admin    AdminListener  `yaml:"admin"`
	Timeouts ServerTimeouts `yaml:"timeouts"`
}

// ServerTimeouts bound how long a client may hold a connection of the
// HTTP and HTTPS listeners. Reading a request body is bounded per site
// (Site.Timeouts); there is no overall read or write timeout, which would
// cut event streams and WebSockets.
type ServerTimeouts struct {
	// ReadHeader bounds reading a request's line and headers. Default 10s.
	ReadHeader time.Duration `yaml:"read_header"`
	// Idle closes a keep-alive connection after this long without a
	// request. Default 2m.
	Idle time.Duration `yaml:"idle"`
}

// SiteTimeouts bound a site's exchanges.
type SiteTimeouts struct {
	// RequestBody is how long a request's body may take to arrive, from
	// the end of its headers, before RequestBodyMinRate extends it; past
	// the deadline the client gets 408, its connection is closed and the
	// backend request ends (a client trickling a body holds neither for
	// long). Default 20s (Apache mod_reqtimeout's body=20).
	RequestBody time.Duration `yaml:"request_body"`
	// RequestBodyMinRate extends RequestBody by one second for every
	// RequestBodyMinRate bytes of the body received, so an upload of any
	// size passes as long as it averages at least this many bytes a
	// second, and a client trickling a byte a second is cut after about
	// RequestBody. 0 makes RequestBody the bound of the whole body.
	// Default 500 (mod_reqtimeout's MinRate=500).
	RequestBodyMinRate int `yaml:"request_body_min_rate"`
	// UpstreamHeader bounds the wait for the backend's response headers
	// once the request is sent (upstream backends); past it the client
	// gets 504. Default 60s.
	UpstreamHeader time.Duration `yaml:"upstream_header"`
}

// HTTPListener is the plain-HTTP listener.
type HTTPListener struct {
	// Addr is host:port; "" turns plain HTTP off. Default "127.0.0.1:8080".
	Addr string `yaml:"addr"`
	// ProxyProtocol: every connection starts with a PROXY protocol header
	// (v1 or v2, as HAProxy's send-proxy / send-proxy-v2 and cloud TCP load
	// balancers send it), whose source address is the client's for
	// everything (limits, audit, binding, access log, X-Forwarded-For to
	// the backend). Only peers in TrustedProxies may connect: any other
	// peer's connection is closed before HTTP, and a trusted peer that
	// sends no header is refused too. Default false.
	ProxyProtocol bool `yaml:"proxy_protocol"`
}

// HTTPSListener is the TLS listener. It is on when CertFile, DevTLS or
// ACME is set (exactly one way to get certificates).
type HTTPSListener struct {
	// Addr is host:port. Default "127.0.0.1:8443" when HTTPS is on.
	Addr     string `yaml:"addr"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// DevTLS serves a generated self-signed certificate for localhost and
	// *.localhost (internal/devtls); loopback addresses only.
	DevTLS bool `yaml:"dev_tls"`
	// ACME obtains a certificate for every site host from an ACME CA
	// (gateway/acme) and renews it before it expires, without a restart.
	ACME *ACME `yaml:"acme"`
	// ProxyProtocol: as HTTPListener.ProxyProtocol; the PROXY header comes
	// before the TLS handshake. Default false.
	ProxyProtocol bool `yaml:"proxy_protocol"`
}

// Enabled reports whether HTTPS is configured.
func (l HTTPSListener) Enabled() bool { return l.CertFile != "" || l.DevTLS || l.ACME != nil }

// ACME configures automatic certificates (listen.https.acme). They are
// kept in the session store's database (with store.cookie, in its
// revocation list's), so that gateways sharing a PostgreSQL or Redis
// store share certificates and only one of them orders each; a reload
// keeps them.
type ACME struct {
	// Email is the account's contact, for the CA's expiry warnings.
	// Optional.
	Email string `yaml:"email"`
	// CA is the ACME directory URL (https). Default Let's Encrypt's
	// (DefaultACMECA).
	CA string `yaml:"ca"`
	// CARoot is a PEM file of the root certificate(s) that the CA's
	// HTTPS server is verified with, for a private CA; default the
	// system's roots.
	CARoot string `yaml:"ca_root"`
	// Challenges are the challenge types answered: http-01 (on the
	// plain-HTTP listener, which the CA reaches on port 80) and
	// tls-alpn-01 (on the HTTPS listener, port 443). Default both.
	Challenges []string `yaml:"challenges"`
}

// DefaultACMECA is Let's Encrypt's production directory.
const DefaultACMECA = "https://acme-v02.api.letsencrypt.org/directory"

// ACMEChallenges are the challenge types listen.https.acme.challenges
// may name, and its default.
var ACMEChallenges = []string{"http-01", "tls-alpn-01"}

func (a *ACME) setDefaults() {
	a.CA = DefaultACMECA
	a.Challenges = slices.Clone(ACMEChallenges)
}

// AdminListener is the JSON admin API, on its own address, behind a bearer
// token. It is off unless Addr is set.
type AdminListener struct {
	Addr string `yaml:"addr"`
	// Token is the bearer token: after Load, from TokenFile, the environment
	// variable TokenEnv, or written inline (which warns).
	Token     Secret `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// TokenEnv names the environment variable read when neither Token nor
	// TokenFile is set. Default "SESSIOND_ADMIN_TOKEN".
	TokenEnv string `yaml:"token_env"`
	// MetricsPath serves Prometheus metrics on the admin listener, behind
	// the token; "" serves none. Default "/metrics".
	MetricsPath string `yaml:"metrics_path"`
}

// Store selects where sessions live: exactly one of the first five.
type Store struct {
	SQLite   *SQLiteStore   `yaml:"sqlite"` // the default
	Postgres *PostgresStore `yaml:"postgres"`
	Redis    *RedisStore    `yaml:"redis"`
	Cookie   *KeyRing       `yaml:"cookie"` // sessions sealed in the browser
	Memory   *MemoryStore   `yaml:"memory"` // lost on restart; tests and demos
	// EncryptAtRest seals session data inside a server store (not with
	// cookie or memory).
	EncryptAtRest *KeyRing `yaml:"encrypt_at_rest"`
	// Revocations is where the cookie store keeps what logout and "sign out
	// everywhere" revoke (a cookie cannot be taken back once issued). Only
	// with the cookie store, which always has one.
	Revocations *Revocations `yaml:"revocations"`
}

// Revocations is the cookie store's revocation list: an embedded SQLite
// database at Path (the default, "sessiond-revocations.db" next to the
// config file), or a Redis server shared by every gateway (Redis). The
// gateway's own state (one-time claims, the device-cookie key) and the
// remember-me keys are kept there too.
type Revocations struct {
	Path  string      `yaml:"path"`
	Redis *RedisStore `yaml:"redis"`
}

// Kind names the chosen store: "sqlite", "postgres", "redis", "cookie" or
// "memory" ("" before provisioning if none was chosen).
func (s Store) Kind() string {
	switch {
	case s.SQLite != nil:
		return "sqlite"
	case s.Postgres != nil:
		return "postgres"
	case s.Redis != nil:
		return "redis"
	case s.Cookie != nil:
		return "cookie"
	case s.Memory != nil:
		return "memory"
	}
	return ""
}

// SQLiteStore is the embedded default.
type SQLiteStore struct {
	// Path of the database file. Default "sessiond.db", relative to the
	// config file's directory.
	Path string `yaml:"path"`
}

// PostgresStore connects to PostgreSQL. Exactly one of DSN, DSNFile and
// DSNEnv; after Load, DSN holds the value.
type PostgresStore struct {
	DSN     Secret `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"`
	DSNEnv  string `yaml:"dsn_env"`
}

// RedisStore connects to Redis (redis://, rediss:// or unix://). Exactly
// one of URL, URLFile and URLEnv; after Load, URL holds the value.
type RedisStore struct {
	URL     Secret `yaml:"url"`
	URLFile string `yaml:"url_file"`
	URLEnv  string `yaml:"url_env"`
}

// MemoryStore keeps sessions in the gateway's memory.
type MemoryStore struct{}

// KeyRing is a list of 32-byte keys read from KeysFile: one key per line,
// base64 (std or URL alphabet) or 64 hex digits, blank lines and '#' comments ignored. The first key seals, all keys
// open, so a new key goes on top and an old one is removed once its sessions
// have expired.
type KeyRing struct {
	KeysFile string `yaml:"keys_file"`
	// Keys is filled by Load from KeysFile.
	Keys [][]byte `yaml:"-"`
}

// Audit is where security events go.
type Audit struct {
	// Log is "stderr" (default: in sessiond's log stream, in its format),
	// "stdout" or a file path (appended to), both as JSON lines.
	Log string `yaml:"log"`
}

// AccessLog is one line per request, naming the session by its Ref
// (never by an ID).
type AccessLog struct {
	// Log is "off" (default), "stdout", "stderr" or a file path (appended
	// to).
	Log string `yaml:"log"`
	// Format is "combined" (default: Apache's combined log format with the
	// session Ref as a last quoted field) or "json".
	Format string `yaml:"format"`
}

// Limits are gateway-wide throttles.
type Limits struct {
	// UnknownIDs throttles, per client (an IPv4 address, an IPv6 /64),
	// requests that present session IDs the store does not know (ID
	// guessing), counted once for the whole gateway (every site shares the
	// count); a request with a valid session is never refused for it. Default 60 per minute
	// (session.DefaultUnknownIDLimit); attempts: 0 turns it off.
	UnknownIDs Rate `yaml:"unknown_ids"`
	// MaxClients bounds how many clients (IPs, user names) each login rate
	// limiter remembers (memory). Default 100000.
	MaxClients int `yaml:"max_clients"`
}

// Rate is a token bucket: Attempts at once, refilled over Per. Attempts 0
// turns the limit off.
type Rate struct {
	Attempts int           `yaml:"attempts"`
	Per      time.Duration `yaml:"per"`
}

// Every is the time to earn back one attempt.
func (r Rate) Every() time.Duration {
	if r.Attempts <= 0 {
		return 0
	}
	return r.Per / time.Duration(r.Attempts)
}

// ForwardAuth configures a forward-auth site (Site.ForwardAuth).
type ForwardAuth struct {
	// SessionData adds the session's data header (Headers.Session) to the
	// identity headers of a signed-in answer. Default false: user and Ref
	// only.
	SessionData bool `yaml:"session_data"`
}

// Site is one virtual host (or a group of host names) behind the gateway.
type Site struct {
	// Name labels the site in logs and metrics. Default: the first host.
	Name string `yaml:"name"`
	// Hosts are the exact host names (no port, no wildcard) this site
	// answers; required, and unique across sites.
	Hosts []string `yaml:"hosts"`
	// Realm names the sessions this site accepts: a session belongs to the
	// realm that created it and is unknown to every other realm. Default:
	// the site's name, so every site is isolated. Sites share sessions only
	// by naming the same realm explicitly, each of them (e.g. www. and shop.
	// on one cookie domain), and only sites of the same mode (an HTTPS-only
	// site never accepts a session that has been on plain HTTP).
	Realm string `yaml:"realm"`

	// Exactly one backend: Upstream (an http:// or https:// URL), CGI
	// scripts or Static files — or none, with ForwardAuth.
	Upstream string    `yaml:"upstream"`
	CGI      *DirRoute `yaml:"cgi"`
	Static   *DirRoute `yaml:"static"`
	// ForwardAuth makes the site the authentication service of a proxy
	// in front of it (nginx auth_request, Caddy forward_auth, Traefik
	// ForwardAuth) instead of a proxy itself: the proxy asks
	// /.sessiond/auth about each request and sends login, logout and
	// /.sessiond/ to the gateway (docs/forward-auth.md).
	ForwardAuth *ForwardAuth `yaml:"forward_auth"`
	// Handler is an in-process backend, for configurations built in code
	// (tests, the demo); it has no key in the file.
	Handler http.Handler `yaml:"-"`

	Session Session `yaml:"session"`
	// AuthRequired are path prefixes where a request without a user is
	// sent to the login page. Like include, exclude, cacheable and the
	// redirect rules' paths they match segment-wise and in any case (see
	// ExactCasePaths): /account covers /account, /account/x,
	// /account.json and /ACCOUNT, not /accounts. Every one must lie where
	// the session's include/exclude keep sessions on.
	AuthRequired []string `yaml:"auth_required"`
	// ExactCasePaths makes the path rules (include, exclude,
	// auth_required, cacheable, redirect rules) match only in their own
	// case: for a backend that tells /Private from /private. Off by
	// default, since many (Express, IIS, case-insensitive file systems)
	// do not.
	ExactCasePaths bool `yaml:"exact_case_paths"`
	// Cacheable are path prefixes where a response to a signed-in user
	// keeps the backend's Cache-Control; elsewhere it is forced to
	// "private, no-store". Default: none.
	Cacheable []string     `yaml:"cacheable"`
	Timeouts  SiteTimeouts `yaml:"timeouts"`
	Auth      Auth         `yaml:"auth"`
	Redirects Redirects    `yaml:"redirects"`
	// Headers renames the gateway protocol's headers (keys session, user,
	// ref, secure, replace, action, email, groups); each defaults to
	// package wire's name (X-Session, X-Session-User, ...). Email and
	// Groups carry an OpenID user's email and groups (comma separated).
	// Every protocol header is dropped from client requests.
	Headers wire.Headers `yaml:"headers"`
	// MaxHeaderBytes bounds the backend's X-Replace-Session header; a longer
	// one is ignored (the session stays as it was, the response goes
	// through) and logged. Default 8192.
	MaxHeaderBytes int        `yaml:"max_header_bytes"`
	CSRF           CSRF       `yaml:"csrf"`
	ModCrypto      *ModCrypto `yaml:"modcrypto"`
	// Pages are the site's sign-in, sessions and error pages. Default:
	// the top-level pages.
	Pages Pages `yaml:"pages"`
	// Inspect sends the backend an X-Session-Info header saying what the
	// gateway did with the session (transport, session cookies by name,
	// visible partition, the record's last events, why it redirected),
	// for a debugging panel like the demo shop's. Why it redirected
	// travels in the redirect target's sessiond_note query parameter,
	// which the gateway strips before the backend sees the URL (never a
	// cookie). Off by default.
	Inspect bool `yaml:"inspect"`
}

// DirRoute serves a directory under a URL prefix.
type DirRoute struct {
	Dir string `yaml:"dir"`
	// Prefix is the URL path the directory is mounted at. Default "/".
	Prefix string `yaml:"prefix"`
}

// Session holds a site's session settings.
type Session struct {
	Mode   Mode   `yaml:"mode"`
	Cookie Cookie `yaml:"cookie"`

	// IdleTimeout ends a session after this long without a request (0: no
	// idle timeout). Default 30m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// AbsoluteTimeout ends a session this long after it started, however
	// active (0: none). Default 24h (session.DefaultAbsoluteTimeout).
	AbsoluteTimeout time.Duration `yaml:"absolute_timeout"`
	// MaxAge is mod_session's SessionMaxAge: the session ends this long
	// after it was last saved; every save restarts it, the "last seen"
	// touch (once per tenth of idle_timeout) too, as Apache's slides with
	// every save (session.Config.MaxAge). 0: none, the default.
	MaxAge time.Duration `yaml:"max_age"`
	// RotateEvery regenerates the ID this often (0: never). Default 15m.
	RotateEvery time.Duration `yaml:"rotate_every"`
	// RotateRequests regenerates the ID every N requests (0: never).
	RotateRequests int `yaml:"rotate_requests"`
	// Grace is how long an ID keeps working after it was replaced, for
	// requests already in flight and slow mobile links. Default 30s.
	Grace time.Duration `yaml:"grace"`
	// Lock serialises the requests of one session (session.Config.Lock):
	// each holds an exclusive lock from load to save, across gateways with
	// Redis or PostgreSQL. Off by default: concurrent requests are merged
	// (distinct keys all kept, the same key last-writer-wins). Turn it on
	// only for a backend that reads a value and writes one derived from it
	// (a counter, a read-modify-write of one key), as PHP's default file
	// sessions do; it costs throughput and a slow request holds the others
	// of its session back.
	Lock bool `yaml:"lock"`

	// StaySecure redirects a mixed-mode session's HTTP requests to HTTPS
	// once it has been on HTTPS (no step down).
	StaySecure bool `yaml:"stay_secure"`
	// AllowHTTPAuth lets a mixed-mode session stay logged in over plain
	// HTTP (its insecure ID then carries the identity; not recommended).
	AllowHTTPAuth bool `yaml:"allow_http_auth"`
	// TheftAction is what happens when an obsolete ID is used after its
	// grace window: revoke-user (the default), destroy or log.
	TheftAction session.TheftAction `yaml:"theft_action"`
	Bind        Bind                `yaml:"bind"`

	// Include limits sessions to these URL path prefixes (default: all);
	// Exclude takes precedence (mod_session's SessionInclude/Exclude).
	// Both match like Site.AuthRequired (segment-wise, extensions, any
	// case unless Site.ExactCasePaths).
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
}

// Cookie holds the session cookie's name and attributes. Secure and
// HttpOnly are not settable: the session cookie is always HttpOnly, and
// Secure whenever it travels over HTTPS only.
type Cookie struct {
	// Name of the cookie: in https-only mode the only one (default
	// "__Host-sid", or "__Secure-sid" with a Domain or Path); in mixed mode
	// the insecure one (default "sid").
	Name string `yaml:"name"`
	// SecureName is mixed mode's HTTPS-only cookie (default "__Host-ssid",
	// or "__Secure-ssid" with a Domain or Path).
	SecureName string `yaml:"secure_name"`
	// Domain shares the cookie with subdomains (default: host only).
	Domain string `yaml:"domain"`
	// Path of the cookie. Default "/".
	Path     string   `yaml:"path"`
	SameSite SameSite `yaml:"same_site"`
	// Persist gives the cookie a Max-Age, so it outlives the browser (0:
	// a browser-session cookie, the default).
	Persist time.Duration `yaml:"persist"`
}

// Bind ties a session to properties of its client (seed 002's caveats
// apply: addresses change on mobile networks and behind proxies).
type Bind struct {
	IP        IPBinding `yaml:"ip"`
	UserAgent bool      `yaml:"user_agent"`
	// Action when a bound property changes: log (the default), reject,
	// regenerate, or off.
	Action session.BindAction `yaml:"action"`
}

// Auth is the gateway's form login (mod_auth_form).
type Auth struct {
	// Htpasswd is the user file; "" means the backend logs users in
	// itself (X-Session-Action: login).
	Htpasswd string `yaml:"htpasswd"`
	// LoginPath serves the login form (default "/login"); requests to
	// AuthRequired paths without a user are sent here.
	LoginPath string `yaml:"login_path"`
	// LogoutPath takes POSTed logouts. Default "/logout".
	LogoutPath string        `yaml:"logout_path"`
	RateLimit  AuthRateLimit `yaml:"rate_limit"`
	// ReauthAfter: this long after the password was last proven, signing
	// out other sessions on the sessions page asks for it again, so a
	// copied cookie alone cannot sign the owner out everywhere. Default
	// 15m; 0 never asks.
	ReauthAfter time.Duration `yaml:"reauth_after"`
	// Remember offers "Keep me signed in" on the login form (one-time
	// remember-me keys, package remember).
	Remember Remember `yaml:"remember"`
	// OIDC signs users in with an OpenID provider (single sign-on); with
	// Htpasswd beside it the login page offers both.
	OIDC *OIDC `yaml:"oidc"`
}

// Remember is the login form's "Keep me signed in": a ticked login gets a
// one-time key (__Host-remember cookie, kept hashed beside the sessions:
// the SQLite, PostgreSQL or Redis store, or with the cookie store beside
// its revocation list) that signs the browser in again once its session is
// gone; every use replaces the key, a reused key revokes every key and
// session of the user in the site's realm.
type Remember struct {
	Enabled bool `yaml:"enabled"`
	// Lifetime of each key (and the cookie); 0 takes the remember
	// package's default, 30 days.
	Lifetime time.Duration `yaml:"lifetime"`
	// ReuseGrace: a used key that comes back within this time of its use
	// (a browser restoring many tabs at once with one old cookie) is
	// refused quietly instead of counting as theft. Default 10s; 0 makes
	// every reuse theft.
	ReuseGrace time.Duration `yaml:"reuse_grace"`
}

// AuthRateLimit throttles login attempts.
type AuthRateLimit struct {
	PerIP   Rate `yaml:"per_ip"`   // default 20 per minute per client (IPv4 address, IPv6 /64)
	PerUser Rate `yaml:"per_user"` // default 10 per minute
	// PerDevice is the budget of wrong passwords for a client that signed
	// in as the user before (a signed device cookie): such a client is not
	// subject to PerIP and PerUser, so guessing cannot lock the user out.
	// Past the budget the device cookie is locked out for Per and counts
	// as untrusted. Default 10 per hour; attempts 0 turns device cookies
	// off (every client is then subject to PerUser).
	PerDevice Rate `yaml:"per_device"`
}

// Redirects decide when a request moves between HTTP and HTTPS.
type Redirects struct {
	// Overall: never, always (to HTTPS), or by Rules. Default: always in
	// https-only mode, rules in mixed mode, never with sessions off.
	Overall secure.Overall `yaml:"overall"`
	Rules   []RedirectRule `yaml:"rules"`
	// Status for GET and HEAD: 302 (default) or 301. Other methods get 307.
	Status int  `yaml:"status"`
	HSTS   HSTS `yaml:"hsts"`
	// HTTPSPort and HTTPPort build redirect targets (host from the site's
	// configuration, never from the request). Default: the ports of the
	// listeners.
	HTTPSPort int `yaml:"https_port"`
	HTTPPort  int `yaml:"http_port"`
}

// RedirectRule matches requests by all of its conditions (at least one)
// and sends them To a scheme. Rules are tried in order; the first match wins.
type RedirectRule struct {
	Path  string       `yaml:"path"`  // URL path prefix
	Glob  string       `yaml:"glob"`  // path.Match pattern on the URL path
	State secure.State `yaml:"state"` // anonymous or authenticated
	// Form matches responses whose HTML contains an element matching this
	// selector, e.g. "input[type=password]" or "form#login".
	Form string `yaml:"form"`
	// To is https (the default), http, or stay: no redirect, an
	// exception to the rules after it.
	To secure.Scheme `yaml:"to"`

	// Selector is Form parsed (by the parser the gateway runs), set by
	// Load/Validate.
	Selector *secure.Selector `yaml:"-"`
}

// HSTS is the Strict-Transport-Security header of HTTPS responses.
type HSTS struct {
	// MaxAge 0 sends no header. Default: 8760h (a year) on https-only
	// sites unless listen.https.dev_tls, else 0.
	MaxAge            time.Duration `yaml:"max_age"`
	IncludeSubdomains bool          `yaml:"include_subdomains"`
}

// CSRF protection settings.
type CSRF struct {
	// EnforceOrigin refuses cross-origin unsafe requests by their Origin
	// and Sec-Fetch-Site headers. Default true.
	EnforceOrigin bool `yaml:"enforce_origin"`
}

// ModCrypto imports sessions from Apache mod_session_crypto cookies, once
// each (gateway/modcrypto).
type ModCrypto struct {
	// PassphraseFile holds SessionCryptoPassphrase values, one per line.
	PassphraseFile string `yaml:"passphrase_file"`
	// CookieName is Apache's SessionCookieName. Default "session".
	CookieName string `yaml:"cookie_name"`
	// Cipher is SessionCryptoCipher: aes256 (default), aes192 or aes128.
	Cipher string `yaml:"cipher"`
	// AuthName is mod_auth_form's AuthName: the user is the session key
	// "<auth_name>-user" (and "<auth_name>-pw", the password in clear, is
	// never forwarded). Default: any AuthName — the one "*-user" key next
	// to a "*-pw" or "*-site" key. The user is signed in only if
	// auth.htpasswd holds it.
	AuthName string `yaml:"auth_name"`
}

// Defaults that are not obvious from the field comments.
const (
	DefaultHTTPAddr       = "127.0.0.1:8080"
	DefaultHTTPSAddr      = "127.0.0.1:8443"
	DefaultAdminTokenEnv  = "SESSIOND_ADMIN_TOKEN"
	DefaultMaxHeaderBytes = 8192
	// DefaultReadHeaderTimeout and DefaultIdleTimeout bound a client's
	// connection (listen.timeouts).
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	// DefaultRequestBodyTimeout and DefaultRequestBodyMinRate bound a
	// request body as Apache's mod_reqtimeout does by default
	// (body=20,MinRate=500); MaxRequestBodyMinRate bounds the rate.
	DefaultRequestBodyTimeout = 20 * time.Second
	DefaultRequestBodyMinRate = 500
	MaxRequestBodyMinRate     = 1 << 30
	// DefaultHSTSMaxAge is the HSTS max-age of https-only sites (not with
	// dev_tls).
	DefaultHSTSMaxAge = 365 * 24 * time.Hour
	// MaxRatePer and MaxRateAttempts bound a Rate.
	MaxRatePer      = 24 * time.Hour
	MaxRateAttempts = 1_000_000
	// DefaultRevocationsPath is the cookie store's revocation database,
	// relative to the config file's directory.
	DefaultRevocationsPath = "sessiond-revocations.db"
)

// Default returns a configuration with every global default and no sites.
func Default() Config {
	return Config{
		Listen: Listen{
			HTTP:     HTTPListener{Addr: DefaultHTTPAddr},
			Admin:    AdminListener{TokenEnv: DefaultAdminTokenEnv, MetricsPath: "/metrics"},
			Timeouts: ServerTimeouts{ReadHeader: DefaultReadHeaderTimeout, Idle: DefaultIdleTimeout},
		},
		Audit:     Audit{Log: "stderr"},
		AccessLog: AccessLog{Log: "off", Format: "combined"},
		Limits: Limits{
			UnknownIDs: Rate{Attempts: session.DefaultUnknownIDLimit, Per: time.Minute},
			MaxClients: 100_000,
		},
	}
}

// DefaultSite returns a site with every default set and no hosts or
// backend.
func DefaultSite() Site {
	return Site{
		Session: Session{
			Mode:            ModeHTTPSOnly,
			Cookie:          Cookie{Path: "/", SameSite: SameSiteLax},
			IdleTimeout:     session.DefaultIdleTimeout,
			AbsoluteTimeout: session.DefaultAbsoluteTimeout,
			RotateEvery:     session.DefaultRotateEvery,
			Grace:           session.DefaultGrace,
			Bind:            Bind{IP: BindIPOff, Action: session.BindLog},
		},
		Auth: Auth{
			LoginPath:   "/login",
			LogoutPath:  "/logout",
			ReauthAfter: 15 * time.Minute,
			Remember:    Remember{ReuseGrace: 10 * time.Second},
			RateLimit: AuthRateLimit{
				PerIP:     Rate{Attempts: 20, Per: time.Minute},
				PerUser:   Rate{Attempts: 10, Per: time.Minute},
				PerDevice: Rate{Attempts: 10, Per: time.Hour},
			},
		},
		Redirects:      Redirects{Status: http.StatusFound},
		Headers:        wire.Headers{}.WithDefaults(),
		MaxHeaderBytes: DefaultMaxHeaderBytes,
		Timeouts:       SiteTimeouts{RequestBody: DefaultRequestBodyTimeout, RequestBodyMinRate: DefaultRequestBodyMinRate, UpstreamHeader: time.Minute},
		CSRF:           CSRF{EnforceOrigin: true},
	}
}

// setDefaults lets the decoder start each new list element or optional
// block from its defaults.
func (s *Site) setDefaults()         { *s = DefaultSite() }
func (r *RedirectRule) setDefaults() { r.To = secure.HTTPS }
func (d *DirRoute) setDefaults()     { d.Prefix = "/" }
func (m *ModCrypto) setDefaults()    { m.CookieName = "session"; m.Cipher = "aes256" }
func (s *SQLiteStore) setDefaults()  { s.Path = "sessiond.db" }
func (o *OIDC) setDefaults()         { *o = DefaultOIDC() }

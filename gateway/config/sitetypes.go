package config

import (
	"net/http"
	"time"

	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

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

// Bind ties a session to properties of its client. Addresses change on
// mobile networks and behind proxies: bind to the IP with care.
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

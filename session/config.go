package session

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sessiond/sessiond/internal/token"
)

// Mode says which transports a Manager's sessions use.
type Mode int

const (
	// HTTPSOnly (the default): one Secure cookie; requests over plain HTTP
	// have no session.
	HTTPSOnly Mode = iota
	// Mixed: an insecure ID over HTTP and a secure ID over HTTPS on one
	// record; see mixed.go.
	Mixed
)

func (m Mode) String() string {
	switch m {
	case HTTPSOnly:
		return "https-only"
	case Mixed:
		return "mixed"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// TheftAction is what happens when an obsolete ID is used after its grace
// window: a signal that the ID was stolen.
type TheftAction int

const (
	// RevokeUser (the default) destroys every session of the record's user
	// (or the record itself if it is anonymous).
	RevokeUser TheftAction = iota
	// DestroySession destroys only the record the obsolete ID belongs to.
	DestroySession
	// LogOnly records the event and refuses the obsolete ID, nothing more.
	LogOnly
)

// CookieConfig shapes the session cookie(s).
type CookieConfig struct {
	// Name of the session cookie. Default "__Host-sid" in HTTPS-only mode
	// ("__Secure-sid" with a Domain or a Path other than "/") and "sid"
	// (the insecure cookie) in mixed mode.
	Name string
	// SecureName is the mixed-mode secure cookie. Default "__Host-ssid"
	// ("__Secure-ssid" with a Domain or a Path other than "/").
	SecureName string
	// Domain and Path. A "__Host-" cookie requires an empty Domain and
	// Path "/". Default Path "/".
	Domain string
	Path   string
	// SameSite defaults to Lax.
	SameSite http.SameSite
	// Persist gives the cookie a Max-Age. Default off: a browser-session
	// cookie, with no Expires and no Max-Age.
	Persist time.Duration
}

// Config configures a Manager. The zero value of every field is the safe
// default; only Store (or Codec) is required.
//
// Durations and counts follow one rule: zero means the field's default,
// and a negative value means off (the limit or the behaviour does not
// apply; the effective configuration, Manager.Config, then holds 0). Grace
// is the one exception: it cannot be off, so a negative Grace is refused.
type Config struct {
	// Store keeps records server-side. Exactly one of Store and Codec.
	Store Store
	// Codec keeps the whole record in the cookie (client-side sessions).
	Codec CookieCodec

	Mode   Mode
	Cookie CookieConfig

	// Realm names who may use this Manager's sessions: a session belongs to
	// the realm that created it, and an ID (or cookie) presented to a Manager
	// of another realm is unknown there, whatever the store — the store is
	// keyed by a realm-bound hash of the ID, each record carries its realm,
	// and a cookie session is sealed with its realm. User listings,
	// revocations and theft detection stay within the realm too. Managers
	// share sessions only when they share a Realm (and a Store or Codec).
	// Give each site its own realm (the gateway uses the site's name). The
	// empty realm is the one of Managers configured before realms existed.
	// At most 255 bytes, no control characters.
	Realm string

	// IdleTimeout ends a session after this long without a request.
	// Default 30 minutes.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after it was created,
	// whatever its activity. Default 24 hours.
	AbsoluteTimeout time.Duration
	// MaxAge is mod_session's SessionMaxAge: the session ends MaxAge after
	// it was last saved. Every save restarts it — a change, and the touch
	// of "last seen" a request that changes nothing makes once per
	// TouchInterval — as Apache's slides with every save; so an active
	// session does not end by MaxAge, and one idle for MaxAge (give or
	// take TouchInterval) does. AbsoluteTimeout caps a session however
	// active. Default off.
	MaxAge time.Duration
	// TouchInterval: a request that changes nothing writes "last seen" at
	// most this often. Default a tenth of IdleTimeout (one minute if idle
	// expiry is off); off, every request writes it.
	TouchInterval time.Duration

	// RotateEvery regenerates the ID periodically, keeping the data.
	// Default 15 minutes.
	RotateEvery time.Duration
	// RotateRequests also regenerates the ID every N requests. It costs a
	// store write on every request. Default off.
	RotateRequests int
	// Grace is how long an obsolete ID keeps working after a regeneration
	// (it is answered with the new cookie). Default 30 seconds; raise it to
	// minutes for mobile clients. Maximum 1 hour; it cannot be off (a
	// regenerated ID must keep working for the requests already in flight,
	// or they would look like theft).
	Grace time.Duration
	// TheftAction is taken on an obsolete ID used after its grace window.
	TheftAction TheftAction

	// AllowHTTPAuth (mixed mode) shows the user identity over plain HTTP.
	// Off by default: a sniffed insecure ID then yields at most the
	// insecure data.
	AllowHTTPAuth bool
	// AllowHTTP (HTTPS-only mode) serves sessions over plain HTTP, for
	// development: only on a loopback listener (127.0.0.1, ::1 — the
	// request's http.LocalAddrContextKey), where nobody can sniff the
	// cookie. Elsewhere a change over plain HTTP still fails with
	// ErrPlainHTTP. The default cookie name becomes "sid" (a __Host- cookie
	// is never stored over HTTP) and the cookie is not Secure on plain-HTTP
	// responses. Never turn it on in production.
	AllowHTTP bool
	// StaySecure (mixed mode): once a session has stepped up, its HTTP
	// requests are redirected to HTTPS. Needs HTTPSURL.
	StaySecure bool
	// HTTPSURL builds redirect targets for StaySecure: scheme, host and
	// port come from here, never from the request's Host header.
	HTTPSURL func(r *http.Request) string

	// Lock holds an exclusive per-session lock for the whole request
	// (PHP's default). Off by default: concurrent requests are merged by
	// compare-and-swap instead, which is faster and safe for distinct keys.
	Lock bool

	// Binding ties a session to its client's IP and/or User-Agent.
	Binding Binding

	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed, both read from the right (the value
	// the proxy added; see ClientIP and IsSecureRequest). Empty: none are.
	TrustedProxies []netip.Prefix

	// UnknownIDLimit is how many unknown or malformed IDs one client (an
	// IPv4 address, an IPv6 /64: ClientPrefix) may present per minute before it is throttled (429) and the attempt is
	// audited. Default 60. A request with a valid session is never refused
	// for it.
	UnknownIDLimit int
	// UnknownIDs, if set, is the limiter to count unknown IDs in, shared
	// with other Managers (every site of a gateway: N sites must not mean
	// N times the guesses). UnknownIDLimit is then not used.
	UnknownIDs *UnknownIDLimiter

	// Locator, if set, resolves a client IP to an area (country/city) for
	// the active-sessions list.
	Locator Locator

	// ErrorHandler writes the response when the session cannot be served
	// (store down: ErrUnavailable, 503; throttled: ErrThrottled, 429).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Auditor receives security events. Default: JSON lines on stderr
	// (NewJSONAuditor) at Info: security events, not the session lifecycle
	// (EventLevel).
	Auditor Auditor
	// Logger gets operational logs (never IDs). Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Defaults of Config, defined here once: the gateway's configuration uses
// these same values.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 24 * time.Hour
	DefaultRotateEvery     = 15 * time.Minute
	DefaultGrace           = 30 * time.Second
	DefaultUnknownIDLimit  = 60 // per client (ClientPrefix) per minute
	// DefaultGCInterval is how often Manager.RunGC sweeps when given 0.
	DefaultGCInterval = 5 * time.Minute
)

// Locator maps a client IP to a human-readable area ("DE, Berlin").
type Locator interface {
	Locate(ip netip.Addr) string
}

// ErrThrottled is passed to ErrorHandler when a client presented too many
// unknown IDs.
var ErrThrottled = errors.New("session: too many unknown session IDs from this client")

// MaxLifetime bounds IdleTimeout, AbsoluteTimeout and MaxAge, so that
// every deadline stays a storable time.
const MaxLifetime = 100 * 365 * 24 * time.Hour

// ConfigError names the field of an invalid Config.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "session: Config." + e.Field + ": " + e.Reason }

// Effective is the configuration New runs: a copy of c with the defaults
// applied, and every problem New would refuse (each a *ConfigError,
// joined). It needs no store to be reachable; a tool that only checks or
// shows a configuration calls it instead of building a Manager.
func (c Config) Effective() (Config, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if (c.Store == nil) == (c.Codec == nil) {
		bad("Store", "exactly one of Store and Codec must be set")
	}
	if c.Mode != HTTPSOnly && c.Mode != Mixed {
		bad("Mode", "unknown mode %d", int(c.Mode))
	}
	if len(c.Realm) > token.MaxRealm || strings.ContainsFunc(c.Realm, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		bad("Realm", "%q: at most %d bytes and no control characters", c.Realm, token.MaxRealm)
	}
	if c.Codec != nil && !c.Codec.CanRevoke() {
		bad("Codec", "cannot revoke cookies (no server-side revocation store): logout would leave a copied cookie "+
			"valid until it expires; give the codec one (store/cookie Config.Revocations)")
	}
	if c.Mode == Mixed && c.Codec != nil {
		bad("Mode", "mixed mode needs a server-side Store (a cookie session cannot hold two IDs)")
	}
	// The rule of Config's doc: zero is the default, negative is off (0).
	def := func(d *time.Duration, v time.Duration) {
		switch {
		case *d == 0:
			*d = v
		case *d < 0:
			*d = 0
		}
	}
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.AbsoluteTimeout, DefaultAbsoluteTimeout)
	def(&c.RotateEvery, DefaultRotateEvery)
	def(&c.MaxAge, 0)
	def(&c.Cookie.Persist, 0)
	touch := time.Minute
	if c.IdleTimeout > 0 {
		touch = c.IdleTimeout / 10
	}
	def(&c.TouchInterval, touch)
	// A deadline must stay storable (MarshalRecord refuses times after 2262).
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"IdleTimeout", c.IdleTimeout}, {"AbsoluteTimeout", c.AbsoluteTimeout}, {"MaxAge", c.MaxAge}} {
		if d.v > MaxLifetime {
			bad(d.field, "%v is longer than %v (100 years)", d.v, MaxLifetime)
		}
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.Grace < 0 || c.Grace > time.Hour {
		bad("Grace", "%v is outside (0, 1h]: an obsolete ID must keep working for the requests in flight, so Grace cannot be off", c.Grace)
	}
	c.RotateRequests = max(c.RotateRequests, 0)
	if c.TheftAction < RevokeUser || c.TheftAction > LogOnly {
		bad("TheftAction", "unknown action %d", int(c.TheftAction))
	}
	switch {
	case c.UnknownIDLimit == 0:
		c.UnknownIDLimit = DefaultUnknownIDLimit
	case c.UnknownIDLimit < 0:
		c.UnknownIDLimit = 0
	}
	if c.AllowHTTP && c.Mode == Mixed {
		bad("AllowHTTP", "is for HTTPS-only mode; mixed mode serves plain HTTP already")
	}
	if c.StaySecure && c.HTTPSURL == nil {
		bad("HTTPSURL", "StaySecure needs HTTPSURL to build redirect targets from configuration")
	}
	for i, p := range c.TrustedProxies {
		if !p.IsValid() {
			bad(fmt.Sprintf("TrustedProxies[%d]", i), "invalid prefix")
		}
	}
	if err := c.Binding.validate(); err != nil {
		errs = append(errs, err)
	}

	ck := &c.Cookie
	if ck.Path == "" {
		ck.Path = "/"
	}
	if ck.SameSite == 0 {
		ck.SameSite = http.SameSiteLaxMode
	}
	// A secure cookie's default name has the strongest prefix it can:
	// __Host- when it belongs to this host and path "/", else __Secure-.
	prefix := "__Host-"
	if ck.Domain != "" || ck.Path != "/" {
		prefix = "__Secure-"
	}
	if ck.Name == "" {
		ck.Name = prefix + "sid"
		if c.Mode == Mixed || c.AllowHTTP {
			ck.Name = "sid"
		}
	}
	if c.Mode == Mixed && ck.SecureName == "" {
		ck.SecureName = prefix + "ssid"
	}
	if !validCookieName(ck.Name) {
		bad("Cookie.Name", "%q is not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~ only)", ck.Name)
	}
	if !strings.HasPrefix(ck.Path, "/") {
		bad("Cookie.Path", "%q must start with /", ck.Path)
	}
	if ck.SameSite == http.SameSiteNoneMode && c.Mode == Mixed {
		bad("Cookie.SameSite", "SameSite=None needs Secure, which the mixed-mode insecure cookie cannot have; use Lax or Strict")
	}
	// Prefix rules (RFC 6265bis): __Secure- needs Secure; __Host- also
	// needs Path=/ and no Domain.
	checkPrefix := func(field, name string, secure bool) {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "__secure-") || strings.HasPrefix(lower, "__host-") {
			if !secure {
				how := "in mixed mode"
				if c.AllowHTTP {
					how = "with AllowHTTP"
				}
				bad(field, "%q travels over plain HTTP %s, so it cannot have the __Host- or __Secure- prefix (browsers would drop it)", name, how)
			}
		}
		if strings.HasPrefix(lower, "__host-") {
			if ck.Domain != "" {
				bad(field, "%q: a __Host- cookie cannot have a Domain (got %q); remove it or use the __Secure- prefix", name, ck.Domain)
			}
			if ck.Path != "/" {
				bad(field, "%q: a __Host- cookie needs Path \"/\" (got %q); use the __Secure- prefix", name, ck.Path)
			}
		}
	}
	checkPrefix("Cookie.Name", ck.Name, c.Mode == HTTPSOnly && !c.AllowHTTP)
	if c.Mode == Mixed {
		if !validCookieName(ck.SecureName) {
			bad("Cookie.SecureName", "%q is not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~ only)", ck.SecureName)
		}
		if strings.EqualFold(ck.SecureName, ck.Name) {
			bad("Cookie.SecureName", "must differ from Cookie.Name, in more than case (%q)", ck.Name)
		}
		checkPrefix("Cookie.SecureName", ck.SecureName, true)
	}

	if c.ErrorHandler == nil {
		c.ErrorHandler = DefaultErrorHandler
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Auditor == nil {
		c.Auditor = NewJSONAuditor()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, errors.Join(errs...)
}

func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// DefaultErrorHandler answers with ErrorStatus's code and message as
// plain text, with ErrorHeaders' headers: 503 for a store failure, 429
// for a throttled client, 500 with the fix for ErrPlainHTTP, 409 for
// ErrIdentityChanged.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ErrorHeaders(w.Header(), err)
	code, msg := ErrorStatus(err)
	http.Error(w, msg, code)
}

package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
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
// revocation list's), on the store's own connections, so that gateways
// sharing a PostgreSQL or Redis store share certificates and only one of
// them orders each; a reload keeps them. With store.encrypt_at_rest their
// private keys and everything else stored for them are sealed with its
// keys.
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
	// tls-alpn-01 (on the HTTPS listener, port 443). Default both. On a
	// listener with proxy_protocol, the CA's validation passes only
	// through the load balancer that adds the PROXY header (check-config
	// warns): a CA connecting directly is refused.
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

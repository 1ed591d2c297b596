package testoidc

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sessiond/sessiond/internal/devtls"
)

// Claim and scope names this provider uses beyond the standard ones.
const (
	// ClaimGroups carries User.Groups in ID tokens and userinfo.
	ClaimGroups = "groups"
	// ScopeGroups is accepted (and ignored: groups are always sent) for
	// clients that ask for it, as oauth2-proxy setups often do.
	ScopeGroups = "groups"
)

// Defaults for the zero values of Config.
const (
	DefaultIDTokenLifetime      = time.Hour
	DefaultAccessTokenLifetime  = 5 * time.Minute
	DefaultRefreshTokenLifetime = 24 * time.Hour
)

// User is an account at the provider.
type User struct {
	// Subject is the sub claim; required and unique.
	Subject string
	// Username is the preferred_username claim (scope profile) and the name
	// NextUser and the login form take; required and unique.
	Username string
	// Email is the email claim (scope email), sent with email_verified true
	// unless EmailUnverified.
	Email           string
	EmailUnverified bool
	// Name is the name claim (scope profile).
	Name string
	// Groups is the groups claim, sent when not empty.
	Groups []string
	// Password, when set, is asked for by the login form; empty means the
	// form signs the user in by name alone.
	Password string
}

// Client is a registered relying party.
type Client struct {
	// ID is the client_id; required.
	ID string
	// Secret is the client_secret (client_secret_basic or _post); empty
	// registers a public client, which must use PKCE.
	Secret string
	// RedirectURIs are the exact redirect_uri values accepted (http allowed).
	RedirectURIs []string
	// PostLogoutRedirectURIs are the exact post_logout_redirect_uri values
	// the end-session endpoint accepts.
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI, when set, receives a logout token whenever a
	// provider session in which this client got tokens ends (at the
	// end-session endpoint or by Provider.LogoutUser).
	BackchannelLogoutURI string
}

// Config configures a Provider. Users and Clients are required.
type Config struct {
	Users   []User
	Clients []Client
	// Addr is the listen address; default 127.0.0.1:0 (a free port).
	Addr string
	// PlainHTTP serves http:// instead of https:// with the test CA.
	PlainHTTP bool
	// AlwaysRefreshToken issues a refresh token without the offline_access
	// scope being asked for (as several providers do).
	AlwaysRefreshToken bool
	// Token lifetimes; zero means the Default... constants.
	IDTokenLifetime      time.Duration
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
	// BackchannelClient posts logout tokens; default: a client with a 5s
	// timeout that trusts the system roots and this provider's CA.
	BackchannelClient *http.Client
}

// Provider is a running OpenID provider. Its methods are safe for
// concurrent use.
type Provider struct {
	cfg     Config
	cert    *devtls.Cert // nil with PlainHTTP
	addr    string       // host:port, fixed for Start after Stop
	issuer  string
	op      *op.Provider
	store   *storage
	handler http.Handler

	mu  sync.Mutex
	srv *httptest.Server // nil while stopped
}

// Run starts a provider for the test and stops it when the test ends. It
// fails the test on a bad config.
func Run(t testing.TB, cfg Config) *Provider {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// New validates cfg and starts a provider; Stop releases it.
func New(cfg Config) (*Provider, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg}
	if !cfg.PlainHTTP {
		if p.cert, err = devtls.Generate(devtls.Options{Hosts: []string{"127.0.0.1", "localhost", "::1"}}); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("testoidc: %w", err)
	}
	p.addr = ln.Addr().String()
	scheme := "https"
	if cfg.PlainHTTP {
		scheme = "http"
	}
	p.issuer = scheme + "://" + p.addr
	if p.store, err = newStorage(cfg, pathLogin); err != nil {
		ln.Close()
		return nil, err
	}
	p.store.onEnd = p.endSessions
	if p.cfg.BackchannelClient == nil {
		p.cfg.BackchannelClient = p.newHTTPClient(5 * time.Second)
	}
	var key [32]byte
	rand.Read(key[:])
	p.op, err = op.NewProvider(&op.Config{
		CryptoKey:                         key,
		DefaultLogoutRedirectURI:          pathLoggedOut,
		CodeMethodS256:                    true,
		AuthMethodPost:                    true,
		GrantTypeRefreshToken:             true,
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}, p.store, op.StaticIssuer(p.issuer), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("testoidc: %w", err)
	}
	p.handler = p.routes()
	p.serve(ln)
	return p, nil
}

func (c Config) validate() (Config, error) {
	var errs []error
	if len(c.Users) == 0 {
		errs = append(errs, errors.New("no users"))
	}
	if len(c.Clients) == 0 {
		errs = append(errs, errors.New("no clients"))
	}
	seen := map[string]bool{}
	for i, u := range c.Users {
		if u.Subject == "" || u.Username == "" {
			errs = append(errs, fmt.Errorf("users[%d]: Subject and Username are required", i))
		}
		if seen[u.Subject] || seen[u.Username] {
			errs = append(errs, fmt.Errorf("users[%d]: %q or %q used twice", i, u.Subject, u.Username))
		}
		seen[u.Subject], seen[u.Username] = true, true
	}
	ids := map[string]bool{}
	for i, cl := range c.Clients {
		if cl.ID == "" || ids[cl.ID] {
			errs = append(errs, fmt.Errorf("clients[%d]: ID %q empty or used twice", i, cl.ID))
		}
		ids[cl.ID] = true
		if len(cl.RedirectURIs) == 0 {
			errs = append(errs, fmt.Errorf("clients[%d]: no RedirectURIs", i))
		}
	}
	for _, d := range []time.Duration{c.IDTokenLifetime, c.AccessTokenLifetime, c.RefreshTokenLifetime} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("negative lifetime %v", d))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("testoidc: config: %w", err)
	}
	c.Users = append([]User(nil), c.Users...)
	c.Clients = append([]Client(nil), c.Clients...)
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.IDTokenLifetime == 0 {
		c.IDTokenLifetime = DefaultIDTokenLifetime
	}
	if c.AccessTokenLifetime == 0 {
		c.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if c.RefreshTokenLifetime == 0 {
		c.RefreshTokenLifetime = DefaultRefreshTokenLifetime
	}
	return c, nil
}

func (p *Provider) serve(ln net.Listener) {
	srv := httptest.NewUnstartedServer(p.handler)
	srv.Listener.Close()
	srv.Listener = ln
	if p.cert == nil {
		srv.Start()
	} else {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.cert.TLS}}
		srv.StartTLS()
	}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
}

// Issuer is the issuer URL (scheme://127.0.0.1:port, no trailing slash):
// what sessiond's auth.oidc.issuer is set to.
func (p *Provider) Issuer() string { return p.issuer }

// CAPEM is the PEM of the certificate that signs the provider's TLS
// certificate (it is its own CA): what the file sessiond's
// auth.oidc.ca_root names holds. Nil with PlainHTTP.
func (p *Provider) CAPEM() []byte {
	if p.cert == nil {
		return nil
	}
	return append([]byte(nil), p.cert.CertPEM...)
}

// CertPool trusts the provider's CA (empty with PlainHTTP).
func (p *Provider) CertPool() *x509.CertPool {
	if p.cert == nil {
		return x509.NewCertPool()
	}
	return p.cert.CertPool()
}

// HTTPClient returns a new client that trusts the provider's CA besides the
// system roots, with no cookie jar and no redirect policy of its own.
func (p *Provider) HTTPClient() *http.Client { return p.newHTTPClient(30 * time.Second) }

func (p *Provider) newHTTPClient(timeout time.Duration) *http.Client {
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if p.cert != nil {
		roots.AddCert(p.cert.Leaf)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// Stop shuts the server down (open connections are closed): requests to the
// issuer then fail to connect. State (users, sessions, tokens) is kept for
// Start. Stopping a stopped provider does nothing.
func (p *Provider) Stop() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// Start serves again on the same address after Stop, with the same keys,
// users, sessions and tokens. Starting a running provider does nothing.
func (p *Provider) Start() error {
	p.mu.Lock()
	running := p.srv != nil
	p.mu.Unlock()
	if running {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("testoidc: restart on %s: %w", p.addr, err)
	}
	p.serve(ln)
	return nil
}

// Endpoint returns the absolute URL of a path at the provider, for tests
// that call an endpoint directly (for example "/.well-known/openid-configuration").
func (p *Provider) Endpoint(path string) string {
	return p.issuer + "/" + strings.TrimPrefix(path, "/")
}

// Package acme obtains and renews the HTTPS certificates of the gateway's
// hosts from an ACME certificate authority (Let's Encrypt by default), on
// github.com/caddyserver/certmagic, the library Caddy uses: certificates
// are obtained when a host is first managed and renewed in the background
// before they expire, OCSP responses are stapled, and everything is kept in
// a KV — the session store's database — so that gateways sharing a store
// share certificates, and a lock in the store lets one of them order while
// the others wait and then load what it obtained.
//
// Challenges are answered on the gateway's own listeners: http-01 by the
// handler HTTPHandler wraps (the plain-HTTP listener), tls-alpn-01 by the
// TLS configuration TLSConfig returns (the HTTPS listener). Either
// gateway sharing the store can answer a challenge the other started,
// since challenge tokens are kept in the KV too.
//
// A certificate that cannot be obtained or renewed (the CA down, a host it
// refuses) is logged and retried with a growing backoff; the gateway keeps
// serving, with the old certificate while it is valid.
package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// The challenge types Config.Challenges may name.
const (
	HTTP01    = "http-01"
	TLSALPN01 = "tls-alpn-01"
)

// Config configures a Manager.
type Config struct {
	// CA is the ACME directory URL. Required.
	CA string
	// Email is the ACME account's contact, to which the CA sends expiry
	// warnings; optional.
	Email string
	// Roots verify the CA's HTTPS certificate; nil: the system's roots.
	Roots *x509.CertPool
	// Challenges are the challenge types to answer, HTTP01 and/or
	// TLSALPN01. Default both.
	Challenges []string
	// HTTPAddr is the gateway's plain-HTTP listener (host:port), where
	// HTTPHandler answers http-01 challenges; required with HTTP01.
	HTTPAddr string
	// TLSAddr is the gateway's HTTPS listener (host:port), where the
	// TLSConfig answers tls-alpn-01 challenges; required with TLSALPN01.
	TLSAddr string
	// KV keeps certificates, keys, the account, challenge tokens and
	// locks. Required.
	KV KV
	// Logger receives certmagic's log (issuance, renewal, errors).
	// Default slog.Default().
	Logger *slog.Logger

	// RenewCheckInterval is how often certificates are checked for
	// renewal (and a failed renewal retried, after its backoff). Default
	// certmagic's (10 minutes).
	RenewCheckInterval time.Duration
	// RenewalWindowRatio is the part of a certificate's lifetime, at its
	// end, in which it is renewed. Default certmagic's (1/3), unless the
	// CA's renewal information (ARI) says otherwise.
	RenewalWindowRatio float64
	// DisableARI ignores the CA's renewal information, so that
	// RenewalWindowRatio alone decides (test CAs suggest windows that do
	// not fit short-lived certificates).
	DisableARI bool
}

// Manager obtains, renews and serves the certificates of the hosts it
// manages.
type Manager struct {
	cache  *certmagic.Cache
	cm     *certmagic.Config
	issuer *certmagic.ACMEIssuer
	ctx    context.Context // the background work; ends with Close
	stop   context.CancelFunc
	closed sync.Once

	mu    sync.Mutex
	hosts []string
}

// New validates c and returns a Manager that manages no host yet.
func New(c Config) (*Manager, error) {
	if c.KV == nil {
		return nil, errors.New("acme: Config.KV is required")
	}
	if c.CA == "" {
		return nil, errors.New("acme: Config.CA is required")
	}
	if c.Challenges == nil {
		c.Challenges = []string{HTTP01, TLSALPN01}
	}
	if len(c.Challenges) == 0 {
		return nil, errors.New("acme: Config.Challenges is empty")
	}
	for _, ch := range c.Challenges {
		if ch != HTTP01 && ch != TLSALPN01 {
			return nil, fmt.Errorf("acme: unknown challenge type %q (want %s or %s)", ch, HTTP01, TLSALPN01)
		}
	}
	http01, alpn := slices.Contains(c.Challenges, HTTP01), slices.Contains(c.Challenges, TLSALPN01)
	httpHost, httpPort, err := splitAddr(c.HTTPAddr, http01, "HTTPAddr")
	if err != nil {
		return nil, err
	}
	tlsHost, tlsPort, err := splitAddr(c.TLSAddr, alpn, "TLSAddr")
	if err != nil {
		return nil, err
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	zl := zap.New(&slogCore{h: log.Handler()}).Named("acme")

	m := &Manager{}
	m.ctx, m.stop = context.WithCancel(context.Background())
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.cm, nil },
		RenewCheckInterval: c.RenewCheckInterval,
		OCSPCheckInterval:  c.RenewCheckInterval,
		Logger:             zl,
	})
	m.cm = certmagic.New(m.cache, certmagic.Config{
		RenewalWindowRatio: c.RenewalWindowRatio,
		DisableARI:         c.DisableARI,
		Storage:            newStorage(c.KV, log),
		Logger:             zl,
	})
	// The solvers first try to listen on the challenge ports themselves;
	// pointed at the gateway's own listeners they find them taken and
	// leave the answering to HTTPHandler and TLSConfig.
	ip, _ := strconv.Atoi(httpPort)
	tp, _ := strconv.Atoi(tlsPort)
	listenHost := httpHost
	if !http01 {
		listenHost = tlsHost
	}
	m.issuer = certmagic.NewACMEIssuer(m.cm, certmagic.ACMEIssuer{
		CA:                      c.CA,
		Email:                   c.Email,
		Agreed:                  true,
		TrustedRoots:            c.Roots,
		DisableHTTPChallenge:    !http01,
		DisableTLSALPNChallenge: !alpn,
		ListenHost:              listenHost,
		AltHTTPPort:             ip,
		AltTLSALPNPort:          tp,
		Logger:                  zl,
	})
	m.cm.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

func splitAddr(addr string, needed bool, field string) (host, port string, err error) {
	if !needed {
		return "", "", nil
	}
	host, port, err = net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("acme: Config.%s %q: %w", field, addr, err)
	}
	if host == "0.0.0.0" || host == "::" {
		host = ""
	}
	return host, port, nil
}

// Manage makes hosts the managed set: certificates already in the KV are
// loaded before it returns, so they serve at once (a restart or a reload
// orders nothing); missing ones are obtained, and all renewed, in the
// background, with errors logged and retried. A host no certificate can
// name is an error.
func (m *Manager) Manage(ctx context.Context, hosts []string) error {
	if err := CheckHosts(hosts); err != nil {
		return err
	}
	for _, h := range hosts {
		if _, err := m.cm.CacheManagedCertificate(ctx, h); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// Logged by certmagic too; the background work retries.
			m.cm.Logger.Warn("loading a stored certificate", zap.String("host", h), zap.Error(err))
		}
	}
	m.mu.Lock()
	m.hosts = slices.Clone(hosts)
	m.mu.Unlock()
	return m.cm.ManageAsync(m.ctx, hosts)
}

// CheckHosts reports a host that no certificate can name.
func CheckHosts(hosts []string) error {
	for _, h := range hosts {
		if !certmagic.SubjectQualifiesForCert(h) {
			return fmt.Errorf("acme: no certificate can name %q", h)
		}
	}
	return nil
}

// Hosts returns the managed hosts.
func (m *Manager) Hosts() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.hosts)
}

// TLSConfig returns the HTTPS listener's configuration: the managed
// certificates, and the answers to tls-alpn-01 challenges.
func (m *Manager) TLSConfig() *tls.Config {
	tc := m.cm.TLSConfig()
	tc.NextProtos = []string{"http/1.1", "acme-tls/1"}
	tc.MinVersion = tls.VersionTLS12
	return tc
}

// GetCertificate serves a handshake from the managed certificates
// (answering tls-alpn-01 challenges too).
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.cm.GetCertificate(hello)
}

// HTTPHandler answers http-01 challenges on the plain-HTTP listener and
// passes every other request to next.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	return m.issuer.HTTPChallengeHandler(next)
}

// HandleHTTPChallenge answers req if it is an http-01 challenge request,
// and reports whether it did.
func (m *Manager) HandleHTTPChallenge(w http.ResponseWriter, req *http.Request) bool {
	return m.issuer.HandleHTTPChallenge(w, req)
}

// Close ends the background work (orders, renewals, OCSP updates). It
// may be called more than once.
func (m *Manager) Close() error {
	m.closed.Do(func() {
		m.stop()
		m.cache.Stop()
	})
	return nil
}

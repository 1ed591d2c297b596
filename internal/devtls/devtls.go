// Package devtls makes a self-signed TLS certificate for development and
// the demo: ECDSA P-256, valid for a short time (30 days by default), for
// names such as localhost and *.localhost and the loopback addresses.
//
// The certificate is its own issuer and is marked as a CA (path length 0)
// so that clients can trust it directly: Go's x509 verifier, curl and
// OpenSSL accept it as a trust anchor when given its PEM (CertPEM). It is
// not for production: nothing revokes it and whoever reads the key file can
// impersonate those names to anyone who trusts the certificate.
//
// Generate works in memory. LoadOrCreate keeps the pair in a data directory
// (key file mode 0600, written atomically) and re-creates it when it is
// missing, unreadable, about to expire or does not cover the names asked for.
//
// Functions here hold no shared state and are safe for concurrent use; two
// processes calling LoadOrCreate on one directory at once each end with a
// valid pair (the last rename wins).
package devtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultHosts are the names a certificate covers when Options.Hosts is
// empty: what the demo serves.
var DefaultHosts = []string{"localhost", "*.localhost", "127.0.0.1", "::1"}

// DefaultValidFor is the lifetime of a certificate when Options.ValidFor is
// zero.
const DefaultValidFor = 30 * 24 * time.Hour

// File names used by WriteFiles and LoadOrCreate.
const (
	CertFile = "dev-cert.pem"
	KeyFile  = "dev-key.pem"
)

// renewBefore: LoadOrCreate replaces a certificate that has less than this
// left, so a demo started today still works tomorrow.
const renewBefore = 24 * time.Hour

// Options selects what a certificate covers.
type Options struct {
	// Hosts lists DNS names (a leading "*." makes a wildcard) and IP
	// literals. Default: DefaultHosts.
	Hosts []string
	// ValidFor is the lifetime. Default: DefaultValidFor.
	ValidFor time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if len(o.Hosts) == 0 {
		o.Hosts = DefaultHosts
	}
	if o.ValidFor == 0 {
		o.ValidFor = DefaultValidFor
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Cert is a generated certificate with its key.
type Cert struct {
	// TLS is ready for tls.Config.Certificates.
	TLS tls.Certificate
	// Leaf is the parsed certificate (also in TLS.Leaf).
	Leaf *x509.Certificate
	// CertPEM is the certificate in PEM form: give it to clients to trust.
	CertPEM []byte

	keyPEM []byte
}

// Generate makes a new key and self-signed certificate for opts.Hosts.
func Generate(opts Options) (*Cert, error) {
	opts = opts.withDefaults()
	if opts.ValidFor < 0 {
		return nil, fmt.Errorf("devtls: ValidFor is %v; want a positive duration", opts.ValidFor)
	}
	var dns []string
	var ips []net.IP
	for _, h := range opts.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
			continue
		}
		if err := checkDNSName(h); err != nil {
			return nil, err
		}
		dns = append(dns, strings.ToLower(h))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devtls: generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("devtls: drawing serial number: %w", err)
	}
	now := opts.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"sessiond development"},
			CommonName:   opts.Hosts[0],
		},
		NotBefore: now.Add(-time.Hour), // tolerate small clock skew
		NotAfter:  now.Add(opts.ValidFor),

		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("devtls: creating certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("devtls: encoding key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return fromPEM(certPEM, keyPEM)
}

// checkDNSName accepts host names made of letters, digits, '-' and '.',
// with an optional leading "*." wildcard label.
func checkDNSName(h string) error {
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(h) > 253 {
		return fmt.Errorf("devtls: %q is not a host name", h)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("devtls: %q is not a host name", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("devtls: %q is not a host name", h)
			}
		}
	}
	return nil
}

func fromPEM(certPEM, keyPEM []byte) (*Cert, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("devtls: %w", err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("devtls: %w", err)
		}
		pair.Leaf = leaf
	}
	return &Cert{TLS: pair, Leaf: leaf, CertPEM: certPEM, keyPEM: keyPEM}, nil
}

// CertPool returns a pool that trusts only c: for test clients.
func (c *Cert) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Leaf)
	return p
}

// Covers reports whether c is valid for every host in hosts.
func (c *Cert) Covers(hosts []string) bool {
	for _, h := range hosts {
		if strings.HasPrefix(h, "*.") {
			// A wildcard is covered only by the same wildcard entry.
			if !slices.Contains(c.Leaf.DNSNames, strings.ToLower(h)) {
				return false
			}
			continue
		}
		if c.Leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// WriteFiles stores the pair in dir as CertFile (mode 0644) and KeyFile
// (mode 0600), creating dir with mode 0700 if needed. Each file is written
// to a temporary name and renamed, so a reader never sees half a key.
func (c *Cert) WriteFiles(dir string) (certPath, keyPath string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("devtls: %w", err)
	}
	certPath = filepath.Join(dir, CertFile)
	keyPath = filepath.Join(dir, KeyFile)
	if err := writeAtomic(keyPath, c.keyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := writeAtomic(certPath, c.CertPEM, 0o644); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("devtls: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("devtls: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("devtls: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("devtls: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("devtls: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("devtls: %w", err)
	}
	return nil
}

// Load reads a pair written by WriteFiles.
func Load(dir string) (*Cert, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		return nil, fmt.Errorf("devtls: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("devtls: %w", err)
	}
	return fromPEM(certPEM, keyPEM)
}

// LoadOrCreate returns the pair stored in dir if it covers opts.Hosts and
// has more than a day left, and otherwise generates a new one and stores
// it. created reports which happened.
func LoadOrCreate(dir string, opts Options) (c *Cert, created bool, err error) {
	opts = opts.withDefaults()
	// A missing or damaged pair is replaced, not fatal: it is only a dev
	// certificate, and the new key is written with safe permissions.
	if c, err := Load(dir); err == nil {
		if c.Covers(opts.Hosts) && opts.Now().Add(renewBefore).Before(c.Leaf.NotAfter) {
			return c, false, nil
		}
	}
	c, err = Generate(opts)
	if err != nil {
		return nil, false, err
	}
	if _, _, err := c.WriteFiles(dir); err != nil {
		return nil, false, err
	}
	return c, true, nil
}

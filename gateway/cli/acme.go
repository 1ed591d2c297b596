package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"reflect"

	"github.com/sessiond/sessiond/gateway/acme"
	"github.com/sessiond/sessiond/gateway/config"
)

// acmeState is a running ACME manager, the settings it was built with and
// the store's kit it keeps its certificates in: a reload with the same
// settings that keeps the kit keeps it, with its certificates in memory
// and its orders and renewals under way. The manager ends before its kit:
// the generation that owns both closes the manager first, and a kit handed
// to the next generation outlives a manager left behind.
type acmeState struct {
	m        *acme.Manager
	tls      *tls.Config // built once, not at every handshake
	settings acmeSettings
	kit      *kit
}

type acmeSettings struct {
	acme        config.ACME
	http, https string
}

func (a *acmeState) close() error { a.m.Close(); return nil }

// provisionACME starts (or, on a reload, keeps) the manager of every site
// host's certificate, keeping them in the kit's certificate store.
// check-config runs it too: it reads ca_root, and starts nothing.
func provisionACME(ctx context.Context, cfg *config.Config, k *kit, log *slog.Logger, check bool, prev *acmeState) (*acmeState, error) {
	a := cfg.Listen.HTTPS.ACME
	set := acmeSettings{acme: *a, http: cfg.Listen.HTTP.Addr, https: cfg.Listen.HTTPS.Addr}
	var hosts []string
	for _, s := range cfg.Sites {
		hosts = append(hosts, s.Hosts...)
	}
	if err := acme.CheckHosts(hosts); err != nil {
		return nil, err
	}
	if prev != nil && !check && prev.kit == k && reflect.DeepEqual(prev.settings, set) {
		return prev, prev.m.Manage(ctx, hosts)
	}
	var roots *x509.CertPool
	if a.CARoot != "" {
		pem, err := os.ReadFile(a.CARoot)
		if err != nil {
			return nil, fmt.Errorf("listen.https.acme.ca_root: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("listen.https.acme.ca_root: no PEM certificate in %s", a.CARoot)
		}
	}
	kv, err := k.certs(ctx)
	if err != nil {
		return nil, fmt.Errorf("certificate store: %w", err)
	}
	if check {
		return nil, nil
	}
	m, err := acme.New(acme.Config{CA: a.CA, Email: a.Email, Roots: roots, Challenges: a.Challenges,
		HTTPAddr: cfg.Listen.HTTP.Addr, TLSAddr: cfg.Listen.HTTPS.Addr, KV: kv, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := m.Manage(ctx, hosts); err != nil {
		m.Close()
		return nil, err
	}
	return &acmeState{m: m, tls: m.TLSConfig(), settings: set, kit: k}, nil
}

// tlsConfig is the HTTPS configuration of a generation whose certificates
// come from ACME: its handshakes (tls-alpn-01 challenges included) are
// served by its manager.
func (a *acmeState) tlsConfig() *tls.Config { return a.tls }

// getConfigForClient hands a TLS handshake to the current generation's
// ACME manager, if it has one; otherwise the listener's configuration
// (getCertificate) serves it.
func (r *running) getConfigForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	if a := r.cur.Load().p.acme; a != nil {
		return a.tlsConfig(), nil
	}
	return nil, nil
}

// acmeHTTP answers the current generation's http-01 challenges before the
// gateway sees the request.
func (r *running) acmeHTTP(w http.ResponseWriter, req *http.Request) bool {
	a := r.cur.Load().p.acme
	return a != nil && a.m.HandleHTTPChallenge(w, req)
}

// adoptACME moves the ACME manager from the replaced generation to the
// new one when the reload kept it.
func adoptACME(old, p *provisioned) {
	if p.acme != nil && p.acme == old.acme {
		p.ownsACME, old.ownsACME = true, false
	}
}

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
	"github.com/sessiond/sessiond/store/memory"
	"github.com/sessiond/sessiond/store/postgres"
	redisstore "github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/sqlite"
)

// acmeState is a running ACME manager and the settings it was built
// with: a reload with the same settings (and the same store) keeps it,
// with its certificates in memory and its orders and renewals under way.
type acmeState struct {
	m        *acme.Manager
	tls      *tls.Config // built once, not at every handshake
	settings acmeSettings
	close    func() error
}

type acmeSettings struct {
	acme        config.ACME
	store       config.Store
	http, https string
}

// provisionACME opens the certificate store of the configured session
// store and, unless checking, starts (or, on a reload, keeps) the manager
// of every site host's certificate. check-config runs it too: it reads
// ca_root and connects to the store as serve does, and starts nothing.
func provisionACME(ctx context.Context, cfg *config.Config, log *slog.Logger, check bool, prev *acmeState) (*acmeState, error) {
	a := cfg.Listen.HTTPS.ACME
	set := acmeSettings{acme: *a, store: cfg.Store, http: cfg.Listen.HTTP.Addr, https: cfg.Listen.HTTPS.Addr}
	var hosts []string
	for _, s := range cfg.Sites {
		hosts = append(hosts, s.Hosts...)
	}
	if err := acme.CheckHosts(hosts); err != nil {
		return nil, err
	}
	if prev != nil && !check && reflect.DeepEqual(prev.settings, set) {
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
	kv, closeKV, err := openCertStore(ctx, cfg.Store, log, check)
	if err != nil {
		return nil, fmt.Errorf("certificate store: %w", err)
	}
	if check {
		return nil, closeKV()
	}
	m, err := acme.New(acme.Config{CA: a.CA, Email: a.Email, Roots: roots, Challenges: a.Challenges,
		HTTPAddr: cfg.Listen.HTTP.Addr, TLSAddr: cfg.Listen.HTTPS.Addr, KV: kv, Logger: log})
	if err == nil {
		err = m.Manage(ctx, hosts)
		if err != nil {
			m.Close()
		}
	}
	if err != nil {
		closeKV()
		return nil, err
	}
	return &acmeState{m: m, tls: m.TLSConfig(), settings: set, close: func() error { m.Close(); return closeKV() }}, nil
}

// openCertStore opens where certificates are kept: the session store's
// database (the cookie store's revocation list's), on connections of its
// own. In check mode an SQLite file is not created (openStore checked its
// place); network stores are connected to as serve does.
func openCertStore(ctx context.Context, sc config.Store, log *slog.Logger, check bool) (acme.KV, func() error, error) {
	none := func() error { return nil }
	path := ""
	switch {
	case sc.Memory != nil:
		return memory.NewCertStore(), none, nil
	case sc.Redis != nil:
		r, err := redisstore.New(redisstore.Config{URL: sc.Redis.URL.Reveal()})
		if err != nil {
			return nil, none, err
		}
		return r.CertStore(), r.Close, nil
	case sc.Cookie != nil && sc.Revocations != nil && sc.Revocations.Redis != nil:
		r, err := redisstore.NewRevocations(ctx, redisstore.RevocationsConfig{URL: sc.Revocations.Redis.URL.Reveal()})
		if err != nil {
			return nil, none, err
		}
		return r.CertStore(), r.Close, nil
	case sc.Postgres != nil:
		p, err := postgres.New(ctx, postgres.Config{URL: sc.Postgres.DSN.Reveal(), Logger: log})
		if err != nil {
			return nil, none, err
		}
		kv, err := p.CertStore(ctx)
		if err != nil {
			p.Close()
			return nil, none, err
		}
		return kv, p.Close, nil
	case sc.Cookie != nil && sc.Revocations != nil:
		path = sc.Revocations.Path
	case sc.SQLite != nil:
		path = sc.SQLite.Path
	default:
		return nil, none, fmt.Errorf("no certificate store for store kind %q", sc.Kind())
	}
	if check {
		return memory.NewCertStore(), none, nil
	}
	s, err := sqlite.OpenCertStore(ctx, path)
	if err != nil {
		return nil, none, err
	}
	return s, s.Close, nil
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

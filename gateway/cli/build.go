package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"

	"github.com/sessiond/sessiond/gateway"
	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/geoip"
	"github.com/sessiond/sessiond/internal/devtls"
	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/session"
)

// provisioned is a gateway ready to serve, with what must be closed after.
type provisioned struct {
	gw        *gateway.Gateway
	listeners gateway.Listeners
	cert      *tls.Certificate // the HTTPS certificate, if any
	closers   []func() error
	acme      *acmeState // certificates from ACME, if configured
	ownsACME  bool       // false while a reload may still hand acme back

	// The store's kit, kept apart so that a reload can take it over when
	// its configuration did not change (a memory store keeps its sessions).
	storeCfg   config.Store
	kit        *kit
	storeClose func() error // nil once handed to a successor
}

func (p *provisioned) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	if p.acme != nil && p.ownsACME {
		p.acme.close()
		p.ownsACME = false
	}
	if p.storeClose != nil {
		p.storeClose()
		p.storeClose = nil
	}
}

// provisionOptions says how provision runs.
type provisionOptions struct {
	// check: check-config — no listeners, no files created.
	check bool
	// log is the operational log (default: JSON on stderr).
	log *slog.Logger
	// reuse is the running gateway on a reload: its store is taken over
	// when the store's configuration is unchanged.
	reuse *provisioned
}

// openAppend opens a log destination: stderr, stdout or a file appended
// to. In check mode a missing file is not created (its directory was
// checked by the configuration), an existing one is opened and closed.
func openAppend(what, dest string, stdout, stderr io.Writer, check bool) (io.Writer, func() error, error) {
	switch dest {
	case "", "stderr":
		return stderr, func() error { return nil }, nil
	case "stdout":
		return stdout, func() error { return nil }, nil
	}
	flags := os.O_WRONLY | os.O_APPEND | os.O_CREATE
	if check {
		if _, err := os.Stat(dest); err != nil {
			return io.Discard, func() error { return nil }, nil
		}
		flags &^= os.O_CREATE
	}
	f, err := os.OpenFile(dest, flags, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return f, f.Close, nil
}

// loadCertificate returns the HTTPS certificate: generated for every
// configured host (dev_tls), or read from the configured files.
func loadCertificate(cfg *config.Config, log *slog.Logger) (tls.Certificate, error) {
	l := cfg.Listen.HTTPS
	if !l.DevTLS {
		cert, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile)
		if err != nil {
			return cert, fmt.Errorf("HTTPS certificate: %w", err)
		}
		return cert, nil
	}
	var hosts []string
	for _, s := range cfg.Sites {
		hosts = append(hosts, s.Hosts...)
	}
	c, err := devtls.Generate(devtls.Options{Hosts: append(hosts, "localhost", "127.0.0.1", "::1")})
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("dev TLS: %w", err)
	}
	log.Warn("sessiond: serving a self-signed development certificate")
	return c.TLS, nil
}

// provision turns a validated configuration into a gateway: everything
// serve does before it binds its listeners. check-config runs exactly this
// (with check set), so it accepts a file exactly when serve would start.
func provision(ctx context.Context, cfg *config.Config, o provisionOptions, stdout, stderr io.Writer) (_ *provisioned, err error) {
	p := &provisioned{}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	check := o.check
	log := o.log
	switch {
	case check:
		log = slog.New(slog.DiscardHandler)
	case log == nil:
		log = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	// Audit events: in the log stream (stderr, the default), or JSON lines
	// of their own. The audit log keeps every event, the session lifecycle
	// too (at Info; attack signals at Warn).
	auditor := &session.SlogAuditor{Logger: log, MinLevel: slog.LevelInfo}
	if cfg.Audit.Log != "stderr" {
		aw, aclose, err := openAppend("audit log", cfg.Audit.Log, stdout, stderr, check)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, aclose)
		auditor.Logger = slog.New(slog.NewJSONHandler(aw, nil))
	}
	var access io.Writer
	if cfg.AccessLog.Log != "off" {
		aw, aclose, err := openAppend("access log", cfg.AccessLog.Log, stdout, stderr, check)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, aclose)
		access = aw
	}

	l := cfg.Listen
	p.listeners = gateway.Listeners{HTTP: l.HTTP.Addr, Admin: l.Admin.Addr,
		ProxyProtocol:     [2]bool{l.HTTP.ProxyProtocol, l.HTTPS.ProxyProtocol},
		ReadHeaderTimeout: l.Timeouts.ReadHeader, IdleTimeout: l.Timeouts.Idle}
	p.storeCfg = cfg.Store
	if r := o.reuse; r != nil && r.storeClose != nil && reflect.DeepEqual(r.storeCfg, cfg.Store) {
		p.kit = r.kit // handed over once the new gateway is built
	} else {
		if r != nil {
			log.Warn("sessiond: the store's configuration changed; sessions of the previous store are not carried over")
		}
		k, err := openKit(ctx, cfg.Store, log, check)
		if err != nil {
			return nil, fmt.Errorf("session store: %w", err)
		}
		p.kit, p.storeClose = k, k.close
	}
	k := p.kit

	switch {
	case l.HTTPS.ACME != nil:
		p.listeners.HTTPS = l.HTTPS.Addr
		var prev *acmeState
		if o.reuse != nil {
			prev = o.reuse.acme
		}
		a, err := provisionACME(ctx, cfg, k, log, check, prev)
		if err != nil {
			return nil, err
		}
		p.acme, p.ownsACME = a, a != prev
		if a != nil {
			p.listeners.TLS = a.tlsConfig()
		}
	case l.HTTPS.Enabled():
		p.listeners.HTTPS = l.HTTPS.Addr
		cert, err := loadCertificate(cfg, log)
		if err != nil {
			return nil, err
		}
		p.cert = &cert
		p.listeners.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	var rememberStore remember.Store
	for _, sc := range cfg.Sites {
		if sc.Auth.Remember.Enabled && rememberStore == nil {
			rs, err := k.remember(ctx)
			if err != nil {
				return nil, fmt.Errorf("remember-me store: %w", err)
			}
			rememberStore = rs
		}
	}
	var locator session.Locator
	if cfg.GeoIP != nil {
		loc, err := geoip.Open(geoip.Config{Path: cfg.GeoIP.Database, Language: cfg.GeoIP.Language, LocalNetworks: cfg.GeoIP.LocalNetworks})
		if err != nil {
			return nil, fmt.Errorf("geoip: %w", err)
		}
		p.closers = append(p.closers, loc.Close)
		locator = loc
	}
	g, err := gateway.New(cfg, gateway.Runtime{Store: k.store, Codec: k.codec, State: k.state, Locator: locator,
		AccessLog: access, Logger: log, Auditor: auditor, RememberStore: rememberStore})
	if err != nil {
		return nil, err
	}
	p.gw = g
	if r := o.reuse; r != nil && p.storeClose == nil {
		p.storeClose, r.storeClose = r.storeClose, nil
	}
	return p, nil
}

var errInvalidConfig = errors.New("invalid configuration")

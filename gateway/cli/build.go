package cli

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"time"

	"github.com/sessiond/sessiond/gateway"
	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/geoip"
	"github.com/sessiond/sessiond/internal/devtls"
	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
	"github.com/sessiond/sessiond/store/memory"
	redisstore "github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/sealed"
	"github.com/sessiond/sessiond/store/sqlite"
)

// provisioned is a gateway ready to serve, with what must be closed after.
type provisioned struct {
	gw        *gateway.Gateway
	listeners gateway.Listeners
	cert      *tls.Certificate // the HTTPS certificate, if any
	closers   []func() error
	acme      *acmeState // certificates from ACME, if configured
	ownsACME  bool       // false while a reload may still hand acme back

	// The store, kept apart so that a reload can take it over when its
	// configuration did not change (a memory store keeps its sessions).
	storeCfg   config.Store
	store      session.Store
	codec      session.CookieCodec
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

// openStore opens the configured store. In check mode (check-config) an
// SQLite file is not created or opened — that would leave a database and
// its WAL files owned by whoever ran the check — only its place is checked;
// network stores are connected to exactly as serve does.
func openStore(ctx context.Context, sc config.Store, log *slog.Logger, check bool) (session.Store, session.CookieCodec, func() error, error) {
	var st session.Store
	closer := func() error { return nil }
	switch {
	case sc.Cookie != nil:
		if sc.Revocations == nil {
			return nil, nil, closer, errors.New("the cookie store needs store.revocations (a cookie cannot be taken back once issued)")
		}
		var rev cookie.Revocations
		rclose := closer
		switch rv := sc.Revocations; {
		case rv.Redis != nil:
			// Connected to exactly as serve does, in check mode too.
			r, err := redisstore.NewRevocations(ctx, redisstore.RevocationsConfig{URL: rv.Redis.URL.Reveal()})
			if err != nil {
				return nil, nil, closer, err
			}
			rev, rclose = r, r.Close
		case check:
			// Like the SQLite store: check the place, create nothing.
			if err := checkSQLitePath(rv.Path); err != nil {
				return nil, nil, closer, fmt.Errorf("cookie revocations: %w", err)
			}
			rev = cookie.NewMemoryRevocations()
		default:
			sqlRev, c, err := openRevocations(ctx, rv.Path)
			if err != nil {
				return nil, nil, closer, err
			}
			rev, rclose = sqlRev, c
		}
		codec, err := cookie.New(cookie.Config{Keys: sc.Cookie.Keys, Logger: log, Revocations: rev})
		if err != nil {
			rclose()
			return nil, nil, closer, err
		}
		return nil, codec, rclose, nil
	case sc.Memory != nil:
		// No sweeper of its own: the gateway's GC (RunGC) removes expired
		// records and audits how many.
		m := memory.New(memory.Config{SweepInterval: -1})
		st, closer = m, m.Close
	case sc.Redis != nil:
		r, err := redisstore.New(redisstore.Config{URL: sc.Redis.URL.Reveal()})
		if err != nil {
			return nil, nil, closer, err
		}
		st, closer = r, r.Close
	case sc.Postgres != nil:
		p, err := openPostgres(ctx, sc.Postgres.DSN.Reveal(), log)
		if err != nil {
			return nil, nil, closer, err
		}
		st, closer = p, p.Close
	default:
		path := "sessiond.db"
		if sc.SQLite != nil {
			path = sc.SQLite.Path
		}
		if check {
			if err := checkSQLitePath(path); err != nil {
				return nil, nil, closer, err
			}
			m := memory.New(memory.Config{})
			st, closer = m, m.Close
			break
		}
		s, err := sqlite.New(ctx, sqlite.Config{Path: path, Logger: log})
		if err != nil {
			return nil, nil, closer, err
		}
		st, closer = s, s.Close
	}
	if sc.EncryptAtRest != nil {
		w, err := sealed.New(sealed.Config{Inner: st, Keys: sc.EncryptAtRest.Keys, Logger: log})
		if err != nil {
			closer()
			return nil, nil, func() error { return nil }, err
		}
		st = w
	}
	return st, nil, closer, nil
}

// openRevocations opens the cookie store's revocation list: an embedded
// SQLite database shared by every gateway process that opens the file, with
// a background sweep of revocations that ended.
func openRevocations(ctx context.Context, path string) (*cookie.SQLRevocations, func() error, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, nil, fmt.Errorf("cookie revocations %s: %w", path, err)
	}
	// Every request of a cookie session checks the list: keep connections
	// open (database/sql keeps two idle ones by default, so a busy gateway
	// would open and close SQLite connections all the time), and cache the
	// answers while nothing is committed to the file (sqlite.ChangeWatcher:
	// a revocation by any process is seen by the next request).
	db.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil { // opens the file in WAL mode: its -shm exists
		db.Close()
		return nil, nil, fmt.Errorf("cookie revocations %s: %w", path, err)
	}
	watch, err := sqlite.WatchChanges(path)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("cookie revocations %s: %w", path, err)
	}
	rev, err := cookie.NewSQLRevocations(ctx, cookie.SQLConfig{DB: db, Version: watch.Version})
	if err != nil {
		watch.Close()
		db.Close()
		return nil, nil, fmt.Errorf("cookie revocations %s: %w", path, err)
	}
	gcCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-gcCtx.Done():
				return
			case now := <-t.C:
				if _, err := rev.GC(gcCtx, now); err != nil && gcCtx.Err() == nil {
					slog.Error("sessiond: sweeping cookie revocations", "err", err)
				}
			}
		}
	}()
	return rev, func() error { stop(); return errors.Join(watch.Close(), rev.Close(), db.Close()) }, nil
}

// checkSQLitePath reports what would stop SQLite from opening path: an
// existing file that is not a regular file, or a missing directory.
func checkSQLitePath(path string) error {
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("sqlite: %s is not a regular file", path)
		}
		return nil
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("sqlite: %s is not a directory", filepath.Dir(path))
	}
	return nil
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
	switch {
	case l.HTTPS.ACME != nil:
		p.listeners.HTTPS = l.HTTPS.Addr
		var prev *acmeState
		if o.reuse != nil {
			prev = o.reuse.acme
		}
		a, err := provisionACME(ctx, cfg, log, check, prev)
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

	p.storeCfg = cfg.Store
	if r := o.reuse; r != nil && r.storeClose != nil && reflect.DeepEqual(r.storeCfg, cfg.Store) {
		p.store, p.codec = r.store, r.codec // handed over once the new gateway is built
	} else {
		if r != nil {
			log.Warn("sessiond: the store's configuration changed; sessions of the previous store are not carried over")
		}
		st, codec, sclose, err := openStore(ctx, cfg.Store, log, check)
		if err != nil {
			return nil, fmt.Errorf("session store: %w", err)
		}
		p.store, p.codec, p.storeClose = st, codec, sclose
	}
	st, codec := p.store, p.codec

	var rememberStore remember.Store
	for _, sc := range cfg.Sites {
		if sc.Auth.Remember.Enabled && rememberStore == nil {
			rs, rclose, err := openRememberStore(ctx, cfg.Store, check)
			if err != nil {
				return nil, fmt.Errorf("remember-me store: %w", err)
			}
			p.closers = append(p.closers, rclose)
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
	var claims gateway.ClaimSet
	if cc, ok := codec.(*cookie.Codec); ok && cc.Revocations() != nil {
		claims = revocationClaims{cc.Revocations()}
	}
	var deviceKey []byte
	if ck := cfg.Store.Cookie; ck != nil && len(ck.Keys) > 0 {
		// No server store to keep a key in: derive it from the cookie
		// store's sealing key, so device cookies survive restarts and
		// reloads (a new first key makes them untrusted, once).
		m := hmac.New(sha256.New, ck.Keys[0])
		m.Write([]byte("sessiond device-cookie key v1"))
		deviceKey = m.Sum(nil)
	}
	g, err := gateway.New(cfg, gateway.Runtime{Store: st, Codec: codec, Locator: locator, AccessLog: access,
		Logger: log, Auditor: auditor, Claims: claims, DeviceKey: deviceKey, RememberStore: rememberStore})
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

// revocationClaims keeps the gateway's one-time claims (migrated Apache
// cookies) in the cookie store's revocation list, so they survive a
// restart. Check and mark are two steps: two copies of one cookie sent in
// the same instant may both pass (a server store makes it one step).
type revocationClaims struct{ rev cookie.Revocations }

func (c revocationClaims) Claim(ctx context.Context, key string, until time.Time) (bool, error) {
	ref := "sessiond-claim:" + key
	seen, err := c.rev.RefRevoked(ctx, ref)
	if err != nil || seen {
		return false, err
	}
	return true, c.rev.RevokeRef(ctx, ref, until)
}

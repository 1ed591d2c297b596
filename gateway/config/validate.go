package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// provision fills the defaults that depend on other fields and makes paths
// absolute. It never reports problems: validate does.
func provision(c *Config, r *resolver) {
	l := &c.Listen
	if l.HTTPS.Enabled() && l.HTTPS.Addr == "" {
		l.HTTPS.Addr = DefaultHTTPSAddr
	}
	l.HTTPS.CertFile = r.abs(l.HTTPS.CertFile)
	l.HTTPS.KeyFile = r.abs(l.HTTPS.KeyFile)
	if a := l.HTTPS.ACME; a != nil {
		a.CARoot = r.abs(a.CARoot)
	}
	l.Admin.TokenFile = r.abs(l.Admin.TokenFile)

	s := &c.Store
	if s.Kind() == "" {
		s.SQLite = &SQLiteStore{}
		s.SQLite.setDefaults()
	}
	if s.SQLite != nil {
		s.SQLite.Path = r.abs(s.SQLite.Path)
	}
	if s.Cookie != nil && s.Revocations == nil {
		s.Revocations = &Revocations{}
	}
	if rv := s.Revocations; rv != nil {
		if rv.Path == "" && rv.Redis == nil {
			rv.Path = DefaultRevocationsPath
		}
		if rv.Path != "" {
			rv.Path = r.abs(rv.Path)
		}
		if rv.Redis != nil {
			rv.Redis.URLFile = r.abs(rv.Redis.URLFile)
		}
	}
	if s.Postgres != nil {
		s.Postgres.DSNFile = r.abs(s.Postgres.DSNFile)
	}
	if s.Redis != nil {
		s.Redis.URLFile = r.abs(s.Redis.URLFile)
	}
	for _, kr := range []*KeyRing{s.Cookie, s.EncryptAtRest} {
		if kr != nil {
			kr.KeysFile = r.abs(kr.KeysFile)
		}
	}
	if c.GeoIP != nil {
		c.GeoIP.Database = r.abs(c.GeoIP.Database)
	}
	fillConfigZeros(c, r)
	if a := c.AccessLog.Log; a != "off" && a != "stderr" && a != "stdout" {
		c.AccessLog.Log = r.abs(a)
	}
	if c.Audit.Log != "stderr" && c.Audit.Log != "stdout" {
		c.Audit.Log = r.abs(c.Audit.Log)
	}
	for i := range c.Sites {
		fillSiteZeros(&c.Sites[i], r, fmt.Sprintf("sites[%d]", i))
		provisionSite(c, &c.Sites[i], r, fmt.Sprintf("sites[%d]", i))
	}
	provisionPages(c, r)
}

// validate checks everything that needs no file or environment.
func validate(c *Config, p *problems) {
	validateListen(c, p)
	validateStore(c, p)
	if c.Audit.Log != "stderr" && c.Audit.Log != "stdout" && !filepath.IsAbs(c.Audit.Log) {
		p.errf("audit.log", "want \"stderr\", \"stdout\" or a file path")
	}
	if f := c.AccessLog.Format; f != "combined" && f != "json" {
		p.errf("access_log.format", "%s is not one of combined, json", quote(f))
	}
	for i, tp := range c.TrustedProxies {
		if tp.Bits() == 0 {
			p.warnf(fmt.Sprintf("trusted_proxies[%d]", i), "%s trusts every peer: any client can then choose its own address and claim HTTPS", tp)
		}
	}
	if c.GeoIP != nil && c.GeoIP.Database == "" {
		p.errf("geoip.database", "is required (a .mmdb file)")
	}
	checkRate(p, "limits.unknown_ids", c.Limits.UnknownIDs)
	if c.Limits.MaxClients < 1 {
		p.errf("limits.max_clients", "must be at least 1")
	}
	validateSites(c, p)
}

// resolve reads secrets and keys and checks the paths the config names.
func resolve(c *Config, r *resolver) {
	l := &c.Listen
	if l.HTTPS.CertFile != "" {
		r.needFile("listen.https.cert_file", l.HTTPS.CertFile)
	}
	if l.HTTPS.KeyFile != "" {
		r.needFile("listen.https.key_file", l.HTTPS.KeyFile)
	}
	if a := l.HTTPS.ACME; a != nil && a.CARoot != "" {
		r.needFile("listen.https.acme.ca_root", a.CARoot)
	}
	if l.Admin.Addr != "" {
		r.resolveSecret(secretSpec{
			path: "listen.admin", inlineKey: "token", fileKey: "token_file", envKey: "token_env",
			inline: &l.Admin.Token, file: l.Admin.TokenFile, env: l.Admin.TokenEnv, envIsFallback: true,
			what: "the admin token", minLen: 16,
		})
	}
	s := &c.Store
	if pg := s.Postgres; pg != nil {
		r.resolveSecret(secretSpec{
			path: "store.postgres", inlineKey: "dsn", fileKey: "dsn_file", envKey: "dsn_env",
			inline: &pg.DSN, file: pg.DSNFile, env: pg.DSNEnv, what: "the PostgreSQL DSN",
			sensitive: urlHasPassword,
		})
		if pg.DSN.IsSet() && !validDSN(pg.DSN.Reveal()) {
			r.p.errf("store.postgres", "the DSN (from %s) is neither a postgres:// URL nor key=value pairs", pg.DSN.Source())
		}
	}
	if rd := s.Redis; rd != nil {
		r.resolveRedis("store.redis", rd)
	}
	if s.SQLite != nil {
		r.needDir("store.sqlite.path", filepath.Dir(s.SQLite.Path))
	}
	if rv := s.Revocations; rv != nil && s.Cookie != nil {
		if rv.Path != "" {
			r.needDir("store.revocations.path", filepath.Dir(rv.Path))
		}
		if rd := rv.Redis; rd != nil {
			r.resolveRedis("store.revocations.redis", rd)
		}
	}
	if s.Cookie != nil {
		r.resolveKeys("store.cookie", s.Cookie)
	}
	if s.EncryptAtRest != nil {
		r.resolveKeys("store.encrypt_at_rest", s.EncryptAtRest)
	}
	if c.Audit.Log != "stderr" && c.Audit.Log != "stdout" {
		r.needDir("audit.log", filepath.Dir(c.Audit.Log))
	}
	if c.GeoIP != nil && c.GeoIP.Database != "" {
		r.needFile("geoip.database", c.GeoIP.Database)
	}
	if a := c.AccessLog.Log; a != "off" && a != "stderr" && a != "stdout" {
		r.needDir("access_log.log", filepath.Dir(a))
	}
	for i := range c.Sites {
		resolveSite(&c.Sites[i], fmt.Sprintf("sites[%d]", i), r)
	}
	resolvePages(c, r)
}

func validateListen(c *Config, p *problems) {
	l := c.Listen
	checkPositive(p, "listen.timeouts.read_header", l.Timeouts.ReadHeader)
	checkPositive(p, "listen.timeouts.idle", l.Timeouts.Idle)
	type bound struct{ host, port, path string }
	var taken []bound
	checkAddr := func(path, addr string) bool {
		if addr == "" {
			return true
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			p.errf(path, "%s is not host:port", quote(addr))
			return false
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			p.errf(path, "port %s is not between 1 and 65535", quote(port))
			return false
		}
		if host != "" && host != "localhost" {
			if _, err := netip.ParseAddr(host); err != nil {
				p.errf(path, "host %s is not an IP address or localhost", quote(host))
				return false
			}
		}
		// Two listeners clash on the same port if their hosts are equal
		// or either listens on every address.
		for _, b := range taken {
			if b.port == port && (b.host == host || anyHost(b.host) || anyHost(host)) {
				p.errf(path, "%s overlaps %s", addr, b.path)
				return false
			}
		}
		taken = append(taken, bound{host, port, path})
		return true
	}
	checkAddr("listen.http.addr", l.HTTP.Addr)
	if l.HTTPS.Enabled() {
		checkAddr("listen.https.addr", l.HTTPS.Addr)
	} else if l.HTTPS.Addr != "" {
		p.errf("listen.https", "addr is set but there is no certificate: set cert_file and key_file, acme, or dev_tls: true")
	}
	for _, pp := range []struct {
		key    string
		on, up bool
	}{{"listen.http.proxy_protocol", l.HTTP.ProxyProtocol, l.HTTP.Addr != ""}, {"listen.https.proxy_protocol", l.HTTPS.ProxyProtocol, l.HTTPS.Enabled()}} {
		switch {
		case !pp.on:
		case !pp.up:
			p.errf(pp.key, "the listener is off")
		case len(c.TrustedProxies) == 0:
			p.errf(pp.key, "PROXY headers are accepted only from trusted_proxies, and none is set: every connection would be refused")
		default:
			p.warnf(pp.key, "only trusted_proxies may connect to this listener, each with a PROXY header; every other connection is refused")
		}
	}
	adminOK := checkAddr("listen.admin.addr", l.Admin.Addr)
	if l.HTTP.Addr == "" && !l.HTTPS.Enabled() {
		p.errf("listen", "no listener: set listen.http.addr or configure listen.https")
	}
	switch h := l.HTTPS; {
	case h.ACME != nil && (h.CertFile != "" || h.KeyFile != ""):
		p.errf("listen.https.acme", "acme obtains its own certificates; remove cert_file and key_file, or acme")
	case h.ACME != nil && h.DevTLS:
		p.errf("listen.https.acme", "acme obtains certificates from a CA, dev_tls generates one; choose one")
	case h.ACME != nil:
		validateACME(c, p)
	case h.DevTLS && (h.CertFile != "" || h.KeyFile != ""):
		p.errf("listen.https.dev_tls", "dev_tls generates its own certificate; remove cert_file and key_file, or dev_tls")
	case h.CertFile != "" && h.KeyFile == "":
		p.errf("listen.https.key_file", "cert_file needs key_file")
	case h.KeyFile != "" && h.CertFile == "":
		p.errf("listen.https.cert_file", "key_file needs cert_file")
	case h.DevTLS && !loopback(h.Addr):
		p.errf("listen.https.addr", "dev_tls serves a certificate anyone can make; bind it to a loopback address (127.0.0.1, ::1 or localhost), not %s", quote(h.Addr))
	}
	if l.Admin.Addr != "" {
		if adminOK && !loopback(l.Admin.Addr) {
			p.warnf("listen.admin.addr", "the admin API listens beyond loopback; keep it behind a firewall")
		}
		switch mp := l.Admin.MetricsPath; {
		case mp != "" && !strings.HasPrefix(mp, "/"):
			p.errf("listen.admin.metrics_path", "must start with \"/\"")
		case mp == "/healthz" || mp == "/readyz" || mp == "/reload" || mp == "/api" || strings.HasPrefix(mp, "/api/"):
			p.errf("listen.admin.metrics_path", "%s is taken by the admin API", quote(mp))
		}
	}
}

func anyHost(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }

// loopback reports whether a host:port listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// port returns the port of a host:port, or def.
func port(addr string, def int) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return def
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return def
	}
	return n
}

// storeNames names the stores chosen.
func storeNames(s Store) []string {
	var n []string
	if s.Redis != nil {
		n = append(n, "redis")
	}
	if s.Cookie != nil {
		n = append(n, "cookie")
	}
	return n
}

func validateStore(c *Config, p *problems) {
	s := c.Store
	var chosen []string
	for _, k := range []struct {
		name string
		set  bool
	}{
		{"sqlite", s.SQLite != nil}, {"postgres", s.Postgres != nil}, {"redis", s.Redis != nil},
		{"cookie", s.Cookie != nil}, {"memory", s.Memory != nil},
	} {
		if k.set {
			chosen = append(chosen, k.name)
		}
	}
	if len(chosen) > 1 {
		p.errf("store."+chosen[1], "choose one store; found %s", andList(chosen))
	}
	if s.SQLite != nil && s.SQLite.Path == "" {
		p.errf("store.sqlite.path", "is empty")
	}
	if s.EncryptAtRest != nil {
		switch {
		case s.Cookie != nil:
			p.errf("store.encrypt_at_rest", "the cookie store is always encrypted; remove encrypt_at_rest")
		case s.Memory != nil:
			p.errf("store.encrypt_at_rest", "the memory store writes nothing to disk; remove encrypt_at_rest")
		}
	}
	if s.Revocations != nil {
		switch {
		case s.Cookie == nil:
			p.errf("store.revocations", "only the cookie store keeps revocations apart; server stores delete the session itself")
		case s.Revocations.Path != "" && s.Revocations.Redis != nil:
			p.errf("store.revocations", "choose one of path (SQLite) and redis")
		}
	}
	if s.Memory != nil {
		p.warnf("store.memory", "sessions live in memory and are lost on restart")
	}
}

func validDSN(s string) bool {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		_, err := url.Parse(s)
		return err == nil
	}
	return strings.Contains(s, "=")
}

// checkPositive requires a timeout: zero would mean none at all.
func checkPositive(p *problems, path string, d time.Duration) {
	if d <= 0 {
		p.errf(path, "must be a positive duration (%v)", d)
	}
}

func checkRate(p *problems, path string, r Rate) {
	switch {
	case r.Attempts < 0:
		p.errf(join(path, "attempts"), "must not be negative")
	case r.Attempts > 0 && r.Per <= 0:
		p.errf(join(path, "per"), "must be a positive duration when attempts is set")
	case r.Per > MaxRatePer:
		// A limiter refills one attempt every per/attempts; beyond this its
		// arithmetic overflows (and a day already locks a client out for one).
		p.errf(join(path, "per"), "%v is longer than %v", r.Per, MaxRatePer)
	case r.Attempts > MaxRateAttempts:
		p.errf(join(path, "attempts"), "%d is more than %d", r.Attempts, MaxRateAttempts)
	case r.Attempts == 0:
		p.warnf(path, "attempts: 0 turns this limit off")
	}
}

// andList writes "a", "a and b", "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// resolveRedis reads a Redis URL from its source and checks its scheme.
func (r *resolver) resolveRedis(path string, rd *RedisStore) {
	r.resolveSecret(secretSpec{
		path: path, inlineKey: "url", fileKey: "url_file", envKey: "url_env",
		inline: &rd.URL, file: rd.URLFile, env: rd.URLEnv, what: "the Redis URL",
		sensitive: urlHasPassword,
	})
	if rd.URL.IsSet() {
		if u, err := url.Parse(rd.URL.Reveal()); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			r.p.errf(path, "the URL (from %s) must start with redis://, rediss:// or unix://", rd.URL.Source())
		}
	}
}

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// apacheKind is one Apache httpd 2.4 set-up (Debian's apache2 package).
type apacheKind string

const (
	apachePlain  apacheKind = "plain"  // mod_proxy, no sessions
	apacheDBD    apacheKind = "dbd"    // mod_session_dbd on SQLite
	apacheCrypto apacheKind = "crypto" // mod_session_cookie + mod_session_crypto
)

const apacheModules = "/usr/lib/apache2/modules"

// apacheSessionTable is mod_session_dbd's table (its documentation's schema).
const apacheSessionTable = `CREATE TABLE session (key varchar(256) PRIMARY KEY, value varchar(4096), expiry bigint);`

// startApache writes an httpd.conf for kind and starts apache2 in the
// foreground: HTTP on httpAddr and, if httpsAddr is set, mod_ssl on it.
// Sessions (dbd, crypto) last 2 h and are re-saved only when their
// expiry is more than SessionExpiryUpdateInterval (720 s, a tenth, as
// sessiond's touch interval) old, so a read-only request of a run is a
// load and no write, as with sessiond.
func startApache(dir string, kind apacheKind, httpAddr, httpsAddr, upstream, cert, key string) *proc {
	name := "apache-" + string(kind)
	d := filepath.Join(dir, name)
	os.MkdirAll(d, 0o755)
	// The children run as www-data: they must be able to write the
	// session database and its journal.
	os.Chmod(d, 0o777)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("ServerRoot %s", d)
	p("ServerName 127.0.0.1")
	p("PidFile %s/httpd.pid", d)
	p("ErrorLog %s/error.log", d)
	p("LogLevel warn")
	p("DefaultRuntimeDir %s", d)
	p("Mutex file:%s default", d)
	p("User www-data")
	p("Group www-data")
	mods := []string{"mpm_event", "authz_core", "proxy", "proxy_http"}
	switch kind {
	case apacheDBD:
		mods = append(mods, "dbd", "session", "session_dbd")
	case apacheCrypto:
		mods = append(mods, "session", "session_cookie", "session_crypto")
	}
	if httpsAddr != "" {
		mods = append(mods, "socache_shmcb", "ssl")
	}
	for _, m := range mods {
		p("LoadModule %s_module %s/mod_%s.so", m, apacheModules, m)
	}
	// A fixed pool of two processes (one per core) with enough threads
	// for the load's connections: no process churn while measuring, and
	// unlimited requests per keep-alive connection, like Go's server.
	p("StartServers 2\nServerLimit 2\nThreadsPerChild 64\nMaxRequestWorkers 128\nMinSpareThreads 64\nMaxSpareThreads 128\nMaxConnectionsPerChild 0")
	p("KeepAlive On\nMaxKeepAliveRequests 0\nKeepAliveTimeout 120")
	p("Listen %s", httpAddr)
	if httpsAddr != "" {
		p("Listen %s", httpsAddr)
		p("SSLSessionCache shmcb:%s/ssl_scache(512000)", d)
	}
	switch kind {
	case apacheDBD:
		db := filepath.Join(d, "sessions.db")
		os.Remove(db)
		if out, err := exec.Command("sqlite3", db, apacheSessionTable).CombinedOutput(); err != nil {
			fatalf("apache: creating %s: %v %s", db, err, out)
		}
		os.Chmod(db, 0o666)
		p("DBDriver sqlite3")
		p("DBDParams %s", db)
		p(`DBDPrepareSQL "delete from session where key = %%s" deletesession`)
		p(`DBDPrepareSQL "update session set value = %%s, expiry = %%lld, key = %%s where key = %%s" updatesession`)
		p(`DBDPrepareSQL "insert into session (value, expiry, key) values (%%s, %%lld, %%s)" insertsession`)
		p(`DBDPrepareSQL "select value from session where key = %%s and (expiry = 0 or expiry > %%lld)" selectsession`)
		p(`DBDPrepareSQL "delete from session where expiry != 0 and expiry < %%lld" cleansession`)
	case apacheCrypto:
		p("SessionCryptoPassphrase bench-secret-%d", os.Getpid())
	}
	site := func() {
		p("  ProxyPass / %s/", upstream)
		p("  ProxyPassReverse / %s/", upstream)
		p("  ProxyPreserveHost On")
		if kind == apachePlain {
			return
		}
		p("  <Location />")
		p("    Session On")
		if kind == apacheDBD {
			p("    SessionDBDCookieName session path=/;httponly")
		} else {
			p("    SessionCookieName session path=/;httponly")
		}
		p("    SessionMaxAge 7200")
		p("    SessionExpiryUpdateInterval 720")
		// The backend updates the session the way sessiond's protocol
		// does, and SessionEnv makes Apache load the session on every
		// request (as sessiond does to pass it on).
		p("    SessionHeader X-Replace-Session")
		p("    SessionEnv On")
		p("  </Location>")
	}
	p("<VirtualHost %s>", httpAddr)
	site()
	p("</VirtualHost>")
	if httpsAddr != "" {
		p("<VirtualHost %s>", httpsAddr)
		p("  SSLEngine on")
		p("  SSLCertificateFile %s", cert)
		p("  SSLCertificateKeyFile %s", key)
		site()
		p("</VirtualHost>")
	}
	conf := filepath.Join(d, "httpd.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		fatalf("%v", err)
	}
	if out, err := exec.Command("apache2", "-t", "-f", conf).CombinedOutput(); err != nil {
		fatalf("apache2 -t -f %s: %v\n%s", conf, err, out)
	}
	pr := startProc(name, dir, "", httpAddr, nil, "apache2", "-f", conf, "-DFOREGROUND")
	pr.tree = true
	return pr
}

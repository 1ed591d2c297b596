package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Host names the harness's sessiond sites answer (wrk sends them in Host).
const (
	hostMixed   = "mixed.bench"   // mixed mode: the insecure cookie "sid" over plain HTTP
	hostSecure  = "secure.bench"  // HTTPS-only (the default mode): TLS at the gateway
	hostProxied = "proxied.bench" // HTTPS-only behind a trusted TLS terminator (X-Forwarded-Proto)
)

// sessiondStores are the stores measured, each in a sessiond of its own.
var sessiondStores = []string{"memory", "sqlite", "redis", "postgres", "cookie"}

// storeYAML is the store: section for kind.
func storeYAML(dir, kind string, redisURL, pgURL string) string {
	switch kind {
	case "memory":
		return "  memory: {}"
	case "sqlite":
		return fmt.Sprintf("  sqlite: {path: %s}", filepath.Join(dir, "sessiond.db"))
	case "redis":
		return fmt.Sprintf("  redis: {url: %q}", redisURL)
	case "postgres":
		return fmt.Sprintf("  postgres: {dsn: %q}", pgURL)
	case "cookie":
		keys := filepath.Join(dir, "cookie.keys")
		k := make([]byte, 32)
		rand.Read(k)
		os.WriteFile(keys, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600)
		return fmt.Sprintf("  cookie: {keys_file: %s}", keys)
	}
	panic(kind)
}

// startSessiond writes a YAML config for one store and starts the built
// binary with it. Three sites share the store and the backend:
// hostMixed (mixed mode, plain HTTP; not with the cookie store), hostSecure (HTTPS-only, TLS at the
// gateway) and, when trusted is true, hostProxied (HTTPS-only behind a
// trusted proxy on 127.0.0.1 that terminates TLS). Sessions idle out
// after 2 h, so their touch interval (a tenth: 12 min) is longer than a
// run: a read-only request never falls due for a touch (a write, and for
// the cookie store a new cookie that wrk would not send back).
func startSessiond(bin, dir, kind, label, httpAddr, httpsAddr, upstream, cert, key, redisURL, pgURL string, trusted bool, env []string) *proc {
	d := filepath.Join(dir, "sessiond-"+kind+label)
	os.MkdirAll(d, 0o700)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("listen:")
	p("  http: {addr: %q}", httpAddr)
	p("  https: {addr: %q, cert_file: %s, key_file: %s}", httpsAddr, cert, key)
	if trusted {
		p("trusted_proxies: [127.0.0.1/32]")
	}
	p("store:")
	p("%s", storeYAML(d, kind, redisURL, pgURL))
	p("audit: {log: %s}", filepath.Join(d, "audit.log"))
	p("sites:")
	if kind != "cookie" {
		p("  - name: mixed")
		p("    hosts: [%s]", hostMixed)
		p("    upstream: %s", upstream)
		p("    session: {mode: mixed, idle_timeout: 2h}")
	}
	p("  - name: secure")
	p("    hosts: [%s]", hostSecure)
	p("    upstream: %s", upstream)
	p("    session: {idle_timeout: 2h}")
	if trusted {
		p("  - name: proxied")
		p("    hosts: [%s]", hostProxied)
		p("    upstream: %s", upstream)
		p("    session: {idle_timeout: 2h}")
	}
	conf := filepath.Join(d, "sessiond.yaml")
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		fatalf("%v", err)
	}
	if out, err := exec.Command(bin, "check-config", conf).CombinedOutput(); err != nil {
		fatalf("sessiond check-config %s: %v\n%s", conf, err, out)
	}
	return startProc("sessiond-"+kind+label, dir, "sessiond: ready", "", env, bin, "serve", "--config", conf)
}

// trustedProxiesKey reports whether this sessiond accepts the
// trusted_proxies key (check-config on a small file).
func trustedProxiesKey(bin, dir, upstream, cert, key string) bool {
	conf := filepath.Join(dir, "probe.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`listen:
  https: {cert_file: %s, key_file: %s}
trusted_proxies: [127.0.0.1/32]
store:
  memory: {}
sites:
  - hosts: [%s]
    upstream: %s
`, cert, key, hostProxied, upstream)), 0o600)
	return exec.Command(bin, "check-config", conf).Run() == nil
}

// startRedis starts a redis-server of the harness's own (no persistence),
// so that its memory figure is the sessions' alone.
func startRedis(dir, name, addr string) string {
	host, port, _ := strings.Cut(addr, ":")
	d := filepath.Join(dir, name)
	os.MkdirAll(d, 0o700)
	startProc(name, dir, "", addr, nil, "redis-server", "--bind", host, "--port", port,
		"--save", "", "--appendonly", "no", "--dir", d)
	return "redis://" + addr + "/0"
}

// postgresDB creates a database of the harness's own on the local
// PostgreSQL server (dropped at the end): no test's tables are touched.
func postgresDB(admin string) (string, func(), error) {
	name := fmt.Sprintf("sessiond_bench_%d", os.Getpid())
	if out, err := exec.Command("psql", admin, "-qc", "CREATE DATABASE "+name).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("psql: %v: %s", err, out)
	}
	u := strings.Replace(admin, "/test?", "/"+name+"?", 1)
	drop := func() { exec.Command("psql", admin, "-qc", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)").Run() }
	return u, drop, nil
}

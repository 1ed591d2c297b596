package main

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The anchors are the proxies an operator would weigh sessiond against
// without sessions: nginx, HAProxy and Caddy from Debian's packages, each
// a plain reverse proxy with a keep-alive upstream and no access log,
// started by the harness from a config file of its own (as Apache is).

// anchor is one proxy without sessions.
type anchor struct {
	name    string   // the target's name
	bin     string   // its binary (run.sh installs the Debian package of that name)
	tree    bool     // count its worker processes' CPU too
	version []string // the command that prints its version
	start   func(d, httpAddr, httpsAddr, upstream, cert, key string) *proc
}

var anchors = []anchor{
	{"nginx", "nginx", true, []string{"nginx", "-v"}, startNginx},
	{"haproxy", "haproxy", true, []string{"haproxy", "-v"}, startHAProxy},
	{"caddy", "caddy", false, []string{"caddy", "version"}, startCaddy},
}

// versions are the versions of the servers measured, for the report.
var versions []string

// noteVersion records name and the first word with a digit that its
// version command prints ("nginx/1.22.1" → "1.22.1").
func noteVersion(name string, args ...string) {
	out, _ := exec.Command(args[0], args[1:]...).CombinedOutput()
	for _, f := range strings.Fields(string(out)) {
		if strings.ContainsAny(f, "0123456789") {
			_, v, ok := strings.Cut(f, "/")
			if !ok {
				v = f
			}
			versions = append(versions, name+" "+v)
			return
		}
	}
}

// anchorTargets starts the anchors wanted (by -only, through wantAny)
// and returns their targets: the read-only request (plain HTTP) and the
// same over TLS at the proxy. An anchor whose binary is missing is
// skipped with a note.
func anchorTargets(dir, upstream, cert, key string, wantAny func(string) bool) []*target {
	var ts []*target
	for _, a := range anchors {
		if !wantAny(a.name) {
			continue
		}
		if _, err := exec.LookPath(a.bin); err != nil {
			log.Printf("%s not installed (run.sh installs the Debian package): skipped", a.bin)
			continue
		}
		noteVersion(a.name, a.version...)
		d := filepath.Join(dir, a.name)
		os.MkdirAll(d, 0o755)
		httpAddr, httpsAddr := freeAddr(), freeAddr()
		p := a.start(d, httpAddr, httpsAddr, upstream, cert, key)
		p.tree = a.tree
		waitListening(a.name, httpsAddr)
		base, tbase := "http://"+httpAddr, "https://"+httpsAddr
		ts = append(ts,
			&target{name: a.name, group: "read", url: base + "/page", pid: p.pid, tree: a.tree, ref: "proxy",
				check: probe(base+"/page", "", nil, false, pageBody)},
			&target{name: a.name + "/tls", group: "https", url: tbase + "/page", pid: p.pid, tree: a.tree, ref: "proxy/tls",
				check: probe(tbase+"/page", "", nil, false, pageBody)})
	}
	return ts
}

// confWriter builds a config file line by line.
type confWriter struct{ strings.Builder }

func (b *confWriter) p(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }

func (b *confWriter) write(path string) string {
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		fatalf("%v", err)
	}
	return path
}

// checkConf runs a server's own configuration check.
func checkConf(name string, args ...string) {
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		fatalf("%s: %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// startNginx: nginx 1.22 proxy_pass to an upstream block with a
// keep-alive pool (HTTP/1.1, Connection cleared), two worker processes
// (one per core, as Apache's two), unlimited requests per client and
// upstream connection, no access log.
func startNginx(d, httpAddr, httpsAddr, upstream, cert, key string) *proc {
	var b confWriter
	b.p("daemon off;")
	b.p("worker_processes 2;")
	b.p("pid %s/nginx.pid;", d)
	b.p("error_log %s/error.log warn;", d)
	b.p("events { worker_connections 1024; }")
	b.p("http {")
	b.p("  access_log off;")
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		b.p("  %s_temp_path %s/%s_temp;", t, d, t)
	}
	b.p("  keepalive_requests 1000000;")
	b.p("  keepalive_timeout 120s;")
	b.p("  upstream backend {")
	b.p("    server %s;", strings.TrimPrefix(upstream, "http://"))
	b.p("    keepalive 64;")
	b.p("    keepalive_requests 1000000;")
	b.p("    keepalive_timeout 120s;")
	b.p("  }")
	b.p("  server {")
	b.p("    listen %s;", httpAddr)
	b.p("    listen %s ssl;", httpsAddr)
	b.p("    ssl_certificate %s;", cert)
	b.p("    ssl_certificate_key %s;", key)
	b.p("    location / {")
	b.p("      proxy_pass http://backend;")
	b.p("      proxy_http_version 1.1;")
	b.p(`      proxy_set_header Connection "";`)
	b.p("      proxy_set_header Host $host;")
	b.p("      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;")
	b.p("      proxy_set_header X-Forwarded-Proto $scheme;")
	b.p("    }")
	b.p("  }")
	b.p("}")
	conf := b.write(filepath.Join(d, "nginx.conf"))
	args := []string{"-p", d, "-e", filepath.Join(d, "error.log"), "-c", conf}
	checkConf("nginx", append([]string{"nginx", "-t", "-q"}, args...)...)
	return startProc("nginx", filepath.Dir(d), "", httpAddr, nil, "nginx", args...)
}

// startHAProxy: HAProxy 2.6 in master-worker mode (as Debian's service
// runs it), one worker with two threads, plain HTTP mode with keep-alive
// on both sides and `http-reuse always` (idle upstream connections are
// shared between client connections, as nginx's pool is), no log.
func startHAProxy(d, httpAddr, httpsAddr, upstream, cert, key string) *proc {
	// HAProxy takes the certificate and its key in one file.
	pem := filepath.Join(d, "cert+key.pem")
	c, err1 := os.ReadFile(cert)
	k, err2 := os.ReadFile(key)
	if err1 != nil || err2 != nil {
		fatalf("haproxy: reading the certificate: %v %v", err1, err2)
	}
	if err := os.WriteFile(pem, append(c, k...), 0o600); err != nil {
		fatalf("%v", err)
	}
	var b confWriter
	b.p("global")
	b.p("  nbthread 2")
	b.p("  maxconn 4096")
	b.p("  pidfile %s/haproxy.pid", d)
	b.p("defaults")
	b.p("  mode http")
	b.p("  option http-keep-alive")
	b.p("  timeout connect 5s")
	b.p("  timeout client 120s")
	b.p("  timeout server 120s")
	b.p("  timeout http-keep-alive 120s")
	b.p("frontend web")
	b.p("  bind %s", httpAddr)
	b.p("  bind %s ssl crt %s alpn http/1.1", httpsAddr, pem)
	b.p("  option forwardfor")
	b.p("  default_backend app")
	b.p("backend app")
	b.p("  http-reuse always")
	b.p("  server app %s", strings.TrimPrefix(upstream, "http://"))
	conf := b.write(filepath.Join(d, "haproxy.cfg"))
	checkConf("haproxy", "haproxy", "-c", "-q", "-f", conf)
	return startProc("haproxy", filepath.Dir(d), "", httpAddr, nil, "haproxy", "-W", "-db", "-f", conf)
}

// caddyTransport sizes reverse_proxy's idle upstream pool for the load's
// connections (as nginx's keepalive 64): with Go's default of two idle
// connections per host, a third of its upstream connections were new.
const caddyTransport = `{
    transport http {
      keepalive 120s
      keepalive_idle_conns 1024
      keepalive_idle_conns_per_host 64
    }
  }`

// startCaddy: Caddy 2.6 reverse_proxy with a keep-alive upstream pool,
// admin API and automatic HTTPS off, no access log (Caddy logs requests
// only with a log directive), its storage and autosaved config in d.
func startCaddy(d, httpAddr, httpsAddr, upstream, cert, key string) *proc {
	up := strings.TrimPrefix(upstream, "http://")
	var b confWriter
	b.p("{")
	b.p("  admin off")
	b.p("  auto_https off")
	b.p("  grace_period 1s")
	b.p("  default_sni 127.0.0.1")
	b.p("  storage file_system %s/data", d)
	b.p("}")
	b.p("http://%s {", httpAddr)
	b.p("  bind 127.0.0.1") // the site address alone listens on every interface
	b.p("  reverse_proxy %s %s", up, caddyTransport)
	b.p("}")
	b.p("https://%s {", httpsAddr)
	b.p("  tls %s %s", cert, key)
	b.p("  bind 127.0.0.1") // the site address alone listens on every interface
	b.p("  reverse_proxy %s %s", up, caddyTransport)
	b.p("}")
	conf := b.write(filepath.Join(d, "Caddyfile"))
	env := []string{"XDG_CONFIG_HOME=" + d, "XDG_DATA_HOME=" + d, "HOME=" + d}
	cmd := exec.Command("caddy", "validate", "--config", conf, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fatalf("caddy validate --config %s: %v\n%s", conf, err, out)
	}
	return startProc("caddy", filepath.Dir(d), "", httpAddr, env, "caddy", "run", "--config", conf, "--adapter", "caddyfile")
}

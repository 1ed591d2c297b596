// Command gateway measures the built sessiond binary as its users would:
// an external load generator (wrk) against separate server processes on
// loopback, configured the way an operator would (YAML for sessiond,
// httpd.conf for Apache), and the CPU time of each server process alone
// (from /proc/PID/stat). It compares, on the same backend, in one run:
//
//	backend          the backend alone
//	proxy            a bare httputil.ReverseProxy with the gateway's upstream transport
//	apache           Apache httpd 2.4 mod_proxy, no sessions
//	apache-dbd       + mod_session_dbd on SQLite, SessionExpiryUpdateInterval
//	apache-crypto    + mod_session_cookie/mod_session_crypto
//	nginx, haproxy, caddy   plain reverse proxies, no sessions (Debian's packages)
//	oauth2-proxy-STORE      oauth2-proxy v7.15.6, htpasswd sign-in, cookie or Redis sessions
//	sessiond-STORE   the sessiond binary with each store
//
// on a read-only request with a valid session, a modifying request (the
// backend answers X-Replace-Session), a request without a cookie, and
// HTTPS (TLS at the server: mod_ssl, crypto/tls), then memory per live
// session in each store. Rounds rotate the order of the targets; ratios
// are paired (a target against the reference proxy of the same round)
// and the tables show medians over rounds.
//
// It is not part of `go test`. Run it with bench/gateway/run.sh, which
// installs what is missing (Debian packages) first:
//
//	bench/gateway/run.sh           # the full run (~6 minutes)
//	bench/gateway/run.sh -quick    # fewer, shorter rounds for iteration
//
// Only loopback addresses are used; every server it starts is stopped at
// the end (and only those).
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// target is one thing wrk drives.
type target struct {
	name    string
	group   string // read, modify, nocookie, https
	url     string // full URL including the path
	headers []string
	pid     int
	tree    bool
	ref     string       // the reference of its round: "proxy" or "proxy/tls"
	status  int          // the status it answers, if not 2xx (its non-2xx responses are then no errors)
	check   func() error // correctness probe before each measurement
}

type options struct {
	rounds       int
	duration     time.Duration
	threads      int
	conns        int
	sessions     int
	only         *regexp.Regexp
	sessiondBin  string
	baselineBin  string
	keep         bool
	profile      string
	profileSecs  time.Duration
	profileOut   string
	postgresURL  string
	skipMemory   bool
	warmup       time.Duration
	markdownOnly bool
	oauth2Proxy  string
}

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		runRole(role, os.Args[1:])
		return
	}
	var o options
	quick := flag.Bool("quick", false, "iteration mode: 2 rounds of 2s, 1,000 sessions for the memory figures")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds (order rotated each round; medians reported)")
	flag.DurationVar(&o.duration, "duration", 4*time.Second, "wrk duration per target per round")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.IntVar(&o.conns, "conns", 32, "wrk keep-alive connections")
	flag.IntVar(&o.sessions, "sessions", 5000, "live sessions created per store for the memory figures")
	only := flag.String("only", "", "regexp: measure only the targets it matches (the reference proxies always run)")
	flag.StringVar(&o.sessiondBin, "sessiond", "", "a sessiond binary to measure (default: build ./cmd/sessiond)")
	flag.StringVar(&o.baselineBin, "baseline", "", "a second sessiond binary (an earlier build) measured beside the first in the same rounds: its read-only targets are named sessiond-STORE@base")
	flag.StringVar(&o.oauth2Proxy, "oauth2-proxy", "", "the oauth2-proxy binary (default: on PATH, else in $(go env GOPATH)/bin)")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (configs, logs)")
	flag.StringVar(&o.profile, "profile", "", "instead of measuring, CPU-profile the sessiond serving this target (e.g. sessiond-sqlite) under wrk")
	breakdownOf := flag.String("breakdown", "", "print where the CPU of this CPU profile (from -profile) goes, by kind of work, and exit")
	flag.StringVar(&o.profileOut, "profile-out", "gwbench-cpu.pprof", "where -profile writes the CPU profile")
	flag.DurationVar(&o.profileSecs, "profile-duration", 10*time.Second, "wrk duration for -profile")
	flag.StringVar(&o.postgresURL, "postgres", envOr("SESSIOND_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL server (a database of the harness's own is created on it and dropped after)")
	flag.BoolVar(&o.skipMemory, "skip-memory", false, "skip the memory-per-session figures")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "wrk warm-up per target before the first round")
	flag.Parse()
	if *breakdownOf != "" {
		if err := breakdown(os.Stdout, *breakdownOf); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *quick { // fewer, shorter rounds, unless given explicitly
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rounds"] {
			o.rounds = 2
		}
		if !set["duration"] {
			o.duration = 2 * time.Second
		}
		if !set["sessions"] {
			o.sessions = 1000
		}
	}
	if *only != "" {
		o.only = regexp.MustCompile(*only)
	}
	log.SetFlags(0)
	log.SetPrefix("gwbench: ")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fatalf("interrupted")
	}()

	dir, err := os.MkdirTemp("", "gwbench-")
	if err != nil {
		log.Fatal(err)
	}
	os.Chmod(dir, 0o755) // Apache's children (www-data) reach their own subdirectory
	if o.keep {
		log.Printf("working directory %s (kept)", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	run(o, dir)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// repoRoot is the main module's directory: the first directory from the
// working directory up whose go.mod declares github.com/sessiond/sessiond.
func repoRoot() string {
	d, err := os.Getwd()
	if err != nil {
		log.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/sessiond/sessiond\n") {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			log.Fatal("run from inside the sessiond repository (no go.mod of github.com/sessiond/sessiond above the working directory)")
		}
		d = parent
	}
}

func run(o options, dir string) {
	defer stopAll()
	bin := o.sessiondBin
	if o.profile != "" {
		out, _ := filepath.Abs(o.profileOut)
		os.Setenv("GWBENCH_CPUPROFILE", out) // inherited by the sessiond processes
		if bin == "" {
			bin = buildProfiling(dir)
		}
	}
	if bin == "" {
		bin = filepath.Join(dir, "sessiond")
		log.Printf("building sessiond")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/sessiond")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			log.Fatalf("go build: %v\n%s", err, out)
		}
	}
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cert, key, err := writeCert(filepath.Join(dir, "tls"), "127.0.0.1", "localhost", hostSecure, hostProxied, hostMixed)
	if err != nil {
		log.Fatal(err)
	}

	beAddr := freeAddr()
	be := startProc("backend", dir, "ready", "", []string{roleEnv + "=backend"}, self, beAddr)
	backendPID = be.pid
	upstream := "http://" + beAddr
	pAddr, pTLS := freeAddr(), freeAddr()
	px := startProc("proxy", dir, "ready", "", []string{roleEnv + "=proxy"}, self, pAddr, upstream)
	pxTLS := startProc("proxy-tls", dir, "ready", "", []string{roleEnv + "=proxy"}, self, pTLS, upstream, cert, key)

	want := func(name string) bool {
		return o.only == nil || o.only.MatchString(strings.TrimSuffix(name, "@base"))
	}
	wantAny := func(prefix string) bool {
		if o.only == nil {
			return true
		}
		for _, s := range []string{"", "/modify", "/nocookie", "/tls"} {
			if o.only.MatchString(prefix + s) {
				return true
			}
		}
		return false
	}

	var targets []*target
	add := func(t *target) {
		if t.name == "proxy" || t.name == "proxy/tls" || want(t.name) {
			targets = append(targets, t)
		}
	}
	plain := func(path string) string { return "http://" + pAddr + path }
	add(&target{name: "backend", group: "read", url: "http://" + beAddr + "/page", pid: be.pid, ref: "proxy"})
	add(&target{name: "proxy", group: "read", url: plain("/page"), pid: px.pid, ref: "proxy"})
	add(&target{name: "proxy/tls", group: "https", url: "https://" + pTLS + "/page", pid: pxTLS.pid, ref: "proxy/tls"})

	// Apache.
	for _, kind := range []apacheKind{apachePlain, apacheDBD, apacheCrypto} {
		name := "apache"
		if kind != apachePlain {
			name += "-" + string(kind)
		}
		if !wantAny(name) {
			continue
		}
		httpAddr, httpsAddr := freeAddr(), ""
		if kind != apacheCrypto {
			httpsAddr = freeAddr()
		}
		ap := startApache(dir, kind, httpAddr, httpsAddr, upstream, cert, key)
		base := "http://" + httpAddr
		var hdr []string
		if kind != apachePlain {
			ck := mustCookie(base, "", nil, "session")
			hdr = []string{"Cookie: " + ck}
		}
		add(&target{name: name, group: "read", url: base + "/page", headers: hdr, pid: ap.pid, tree: true, ref: "proxy",
			check: probe(base+"/page", "", hdr, false, "")})
		switch kind {
		case apacheDBD:
			memTargets = append(memTargets, memTarget{name: name, base: base, cookie: "session", what: "SQLite pages in use",
				size: sqliteBytes(filepath.Join(dir, "apache-dbd", "sessions.db"))})
		case apacheCrypto:
			memTargets = append(memTargets, memTarget{name: name, base: base, cookie: "session", size: zero})
		}
		if kind == apacheDBD {
			add(&target{name: name + "/modify", group: "modify", url: base + "/modify", headers: hdr, pid: ap.pid, tree: true, ref: "proxy",
				check: probe(base+"/modify", "", hdr, true, "")})
			add(&target{name: name + "/nocookie", group: "nocookie", url: base + "/page", pid: ap.pid, tree: true, ref: "proxy",
				check: probe(base+"/page", "", nil, false, "")})
		}
		if httpsAddr != "" {
			tbase := "https://" + httpsAddr
			var thdr []string
			if kind != apachePlain {
				thdr = []string{"Cookie: " + mustCookie(tbase, "", nil, "session")}
			}
			add(&target{name: name + "/tls", group: "https", url: tbase + "/page", headers: thdr, pid: ap.pid, tree: true, ref: "proxy/tls",
				check: probe(tbase+"/page", "", thdr, false, "")})
		}
	}

	// Proxies without sessions (nginx, HAProxy, Caddy) and oauth2-proxy.
	for _, t := range anchorTargets(dir, upstream, cert, key, wantAny) {
		add(t)
	}
	for _, t := range oauth2ProxyTargets(oauth2ProxyBin(o.oauth2Proxy), dir, upstream, cert, key, wantAny) {
		add(t)
	}

	// sessiond, one process per store.
	trusted := trustedProxiesKey(bin, dir, upstream, cert, key)
	if !trusted {
		log.Printf("this sessiond has no trusted_proxies key: the cookie store (HTTPS-only) is measured over TLS at the gateway only")
	}
	var redisURL, redisAddr, pgURL string
	for _, kind := range sessiondStores {
		name := "sessiond-" + kind
		if !wantAny(name) {
			continue
		}
		switch kind {
		case "redis":
			redisAddr = freeAddr()
			redisURL = startRedis(dir, "redis", redisAddr)
		case "postgres":
			u, drop, err := postgresDB(o.postgresURL)
			if err != nil {
				log.Printf("PostgreSQL unavailable, sessiond-postgres skipped: %v", err)
				continue
			}
			started = append(started, &proc{name: "postgres-db", stop: drop})
			pgURL = u
		}
		httpAddr, httpsAddr := freeAddr(), freeAddr()
		var env []string
		if kind == "memory" {
			// Without its heap floor, so that RSS follows the live heap
			// and shows what the sessions take.
			env = []string{"GOGC=100"}
		}
		sd := startSessiond(bin, dir, kind, "", httpAddr, httpsAddr, upstream, cert, key, redisURL, pgURL, trusted, env)
		base, tbase := "http://"+httpAddr, "https://"+httpsAddr
		site, host, ck, extra, ref := siteOf(kind, base, tbase, trusted)
		if o.baselineBin != "" {
			// The earlier build, on the same store server, its read-only
			// request only: an A/B pair within each round.
			bh, bs := freeAddr(), freeAddr()
			bd := startSessiond(o.baselineBin, dir, kind, "@base", bh, bs, upstream, cert, key, redisURL, pgURL, trusted, env)
			bsite, bhost, bck, bextra, bref := siteOf(kind, "http://"+bh, "https://"+bs, trusted)
			bhdr := append([]string{"Host: " + bhost}, bextra...)
			bhdr = append(bhdr, "Cookie: "+mustCookie(bsite, bhost, bextra, bck))
			if bref == "proxy" {
				add(&target{name: name + "@base", group: "read", url: bsite + "/page", headers: bhdr, pid: bd.pid, ref: bref,
					check: probe(bsite+"/check", bhost, bhdr, false, "session=cart=1%2c2%2c3")})
			}
		}
		mt := memTarget{name: name, base: site, host: host, cookie: ck, headers: extra}
		switch kind {
		case "memory":
			mt.what, mt.size, mt.scale = "RSS (GOGC=100)", rssBytes(sd.pid, false), 10
		case "sqlite":
			mt.what, mt.size = "SQLite pages in use", sqliteBytes(filepath.Join(dir, "sessiond-sqlite", "sessiond.db"))
		case "redis":
			mt.what, mt.size = "Redis used_memory", redisBytes(redisAddr)
		case "postgres":
			mt.what, mt.size = "table+index size", postgresBytes(pgURL)
		case "cookie":
			mt.size = zero
		}
		memTargets = append(memTargets, mt)
		hdr := append([]string{"Host: " + host}, extra...)
		hdr = append(hdr, "Cookie: "+mustCookie(site, host, extra, ck))
		if ref == "proxy" {
			add(&target{name: name, group: "read", url: site + "/page", headers: hdr, pid: sd.pid, ref: ref,
				check: probe(site+"/check", host, hdr, false, "session=cart=1%2c2%2c3")})
		}
		add(&target{name: name + "/modify", group: "modify", url: site + "/modify", headers: hdr, pid: sd.pid, ref: ref,
			check: probe(site+"/modify", host, hdr, kind == "cookie", "")})
		if kind == "sqlite" || kind == "memory" {
			nohdr := []string{"Host: " + host}
			add(&target{name: name + "/nocookie", group: "nocookie", url: site + "/page", headers: nohdr, pid: sd.pid, ref: ref,
				check: probe(site+"/page", host, nohdr, false, "")})
		}
		if kind == "sqlite" || kind == "cookie" {
			thdr := []string{"Host: " + hostSecure, "Cookie: " + mustCookie(tbase, hostSecure, nil, "__Host-sid")}
			add(&target{name: name + "/tls", group: "https", url: tbase + "/page", headers: thdr, pid: sd.pid, ref: "proxy/tls",
				check: probe(tbase+"/check", hostSecure, thdr, false, "session=cart=1%2c2%2c3")})
		}
	}

	if o.profile != "" {
		profileTarget(o, targets)
		return
	}
	results := measureRounds(o, targets)
	var mem []memRow
	if !o.skipMemory {
		mem = memoryPerSession(o, dir)
	}
	report(os.Stdout, o, targets, results, mem, trusted)
}

// siteOf is the site a sessiond's targets use: the cookie store has no
// mixed mode (a cookie cannot hold two IDs), so its plain-HTTP figures are
// HTTPS-only behind a trusted proxy (X-Forwarded-Proto from 127.0.0.1),
// when the binary has the key, and its TLS figures TLS at the gateway.
func siteOf(kind, base, tbase string, trusted bool) (site, host, cookie string, extra []string, ref string) {
	site, host, cookie, ref = base, hostMixed, "sid", "proxy"
	switch {
	case kind == "cookie" && trusted:
		host, cookie, extra = hostProxied, "__Host-sid", []string{"X-Forwarded-Proto: https"}
	case kind == "cookie":
		site, host, cookie, ref = tbase, hostSecure, "__Host-sid", "proxy/tls"
	}
	return site, host, cookie, extra, ref
}

// client is the harness's own HTTP client for set-up and probes
// (loopback, self-signed certificate).
var client = &http.Client{
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
	Timeout: 30 * time.Second,
}

func get(url, host string, headers []string) (*http.Response, string, error) {
	req, _ := http.NewRequest("GET", url, nil)
	if host != "" {
		req.Host = host
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Add(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), nil
}

// mustCookie creates a session through base/setup and returns "name=value".
func mustCookie(base, host string, headers []string, name string) string {
	resp, _, err := get(base+"/setup", host, headers)
	if err != nil {
		fatalf("%s/setup: %v", base, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c.Name + "=" + c.Value
		}
	}
	fatalf("%s/setup (Host %s): no %q cookie (status %d, Set-Cookie %q)", base, host, name, resp.StatusCode, resp.Header.Values("Set-Cookie"))
	return ""
}

// probe checks a target answers 200, sets a cookie only if mayCookie,
// and (if want != "") that the body contains want.
func probe(url, host string, headers []string, mayCookie bool, want string) func() error {
	return func() error {
		resp, body, err := get(url, host, headers)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		if !mayCookie && len(resp.Header.Values("Set-Cookie")) > 0 {
			return fmt.Errorf("a cookie was set: %q", resp.Header.Values("Set-Cookie"))
		}
		if want != "" && !strings.Contains(body, want) {
			return fmt.Errorf("body %q lacks %q", body, want)
		}
		return nil
	}
}

// measureRounds runs every target once per round, the order rotated by
// a different offset each round, after one warm-up pass.
func measureRounds(o options, targets []*target) map[string][]measurement {
	total := time.Duration(len(targets)*o.rounds) * (o.duration + 300*time.Millisecond)
	log.Printf("%d targets x %d rounds x %v (about %v)", len(targets), o.rounds, o.duration, total.Round(time.Second))
	for _, t := range targets {
		if t.check != nil {
			if err := t.check(); err != nil {
				fatalf("%s: probe before warm-up: %v", t.name, err)
			}
		}
		if _, err := runWrk(t.url, t.headers, o.threads, o.conns, o.warmup, t.pid, t.tree); err != nil {
			fatalf("%s: %v", t.name, err)
		}
	}
	res := map[string][]measurement{}
	step := max(1, len(targets)/max(1, o.rounds))
	for r := range o.rounds {
		off := (r * step) % len(targets)
		order := append(slices.Clone(targets[off:]), targets[:off]...)
		for _, t := range order {
			if t.check != nil {
				if err := t.check(); err != nil {
					fatalf("%s: probe in round %d: %v", t.name, r+1, err)
				}
			}
			m, err := runWrk(t.url, t.headers, o.threads, o.conns, o.duration, t.pid, t.tree)
			if err != nil {
				fatalf("%s: %v", t.name, err)
			}
			if t.status >= 300 { // the probe checked the status
				m.errs -= m.non2xx
			}
			res[t.name] = append(res[t.name], m)
			fmt.Fprintf(os.Stderr, "round %d  %-26s %8.0f req/s  p99 %-8v cpu %v/req\n", r+1, t.name, m.rps, m.p99, m.cpu)
		}
	}
	return res
}

// Command loadtest measures the gateway against a bare reverse proxy, in
// one run on loopback, and prints throughput and latency ratios (SPEC §3:
// sessiond >= 0.8x the bare proxy's throughput, p99 within 1.3x, on a
// read-only request with a valid session).
//
//	go run ./gateway/loadtest -duration 5s -rounds 3 -workers 32
//
// Variants, each behind its own loopback listener:
//
//	backend          the backend alone
//	proxy            httputil.ReverseProxy (Rewrite) to the backend
//	sessiond-sqlite  the gateway, embedded SQLite store (the default)
//	sessiond-cookie  the gateway, encrypted cookie store
//	sessiond-memory  the gateway, memory store (reference)
//
// The gateway runs HTTPS-only sessions behind a trusted TLS terminator
// (X-Forwarded-Proto from 127.0.0.1), so every variant is plain HTTP and
// the comparison measures the session work, not TLS. Variants are run
// interleaved, round after round, and the median round is reported.
// Traffic goes to 127.0.0.1 only; every loop is bounded by -duration.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/gateway"
	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/upstream"
	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
	"github.com/sessiond/sessiond/store/memory"
	"github.com/sessiond/sessiond/store/sqlite"
	"github.com/sessiond/sessiond/wire"
)

type variant struct {
	name   string
	url    string
	cookie string
}

type result struct {
	reqs     int
	errs     int
	rps      float64
	p50, p99 time.Duration
	cpu      time.Duration // process CPU time (user+system) per request
}

// cpuTime is the process's CPU time so far (client, proxies and backend
// together: the same for every variant but for the variant's own work).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func serve(h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go (&http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
	return "http://" + ln.Addr().String()
}

// backend answers a small page; /setup stores a cart in the session.
func backend() http.Handler {
	body := strings.Repeat("x", 512)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/setup" {
			w.Header().Set(wire.HeaderReplace, "cart=1%2c2%2c3&name=alice&theme=dark")
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	})
}

func gatewayFor(name string, up *url.URL, st session.Store, codec session.CookieCodec) string {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()
	cfg.Listen.HTTPS = config.HTTPSListener{Addr: "127.0.0.1:8443", DevTLS: true} // not bound: this process serves
	cfg.TrustedProxies = []config.IPPrefix{{Prefix: netip.MustParsePrefix("127.0.0.1/32")}}
	sc := config.DefaultSite()
	sc.Name, sc.Hosts, sc.Upstream = name, []string{"127.0.0.1"}, up.String()
	sc.Redirects.Overall = secure.Never
	cfg.Sites = []config.Site{sc}
	if _, err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	g, err := gateway.New(&cfg, gateway.Runtime{Store: st, Codec: codec,
		Logger: logger, Auditor: &session.SlogAuditor{Logger: logger}})
	if err != nil {
		log.Fatal(err)
	}
	return serve(g)
}

// setup creates a session through the gateway and returns its cookie.
func setup(client *http.Client, base string) string {
	req, _ := http.NewRequest("GET", base+"/setup", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-sid" {
			return c.Name + "=" + c.Value
		}
	}
	log.Fatalf("%s: no session cookie issued (status %d)", base, resp.StatusCode)
	return ""
}

func run(client *http.Client, v variant, workers int, d time.Duration) result {
	var mu sync.Mutex
	var all []time.Duration
	var errs int
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			e := 0
			for ctx.Err() == nil {
				req, _ := http.NewRequest("GET", v.url+"/page", nil)
				req.Header.Set("X-Forwarded-Proto", "https")
				if v.cookie != "" {
					req.Header.Set("Cookie", v.cookie)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					e++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || len(resp.Header.Values("Set-Cookie")) != 0 {
					e++ // a read-only request must not set a cookie
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += e
			mu.Unlock()
		})
	}
	wg.Wait()
	cpu := cpuTime() - cpu0
	slices.Sort(all)
	r := result{reqs: len(all), errs: errs, rps: float64(len(all)) / d.Seconds()}
	if len(all) > 0 {
		r.cpu = cpu / time.Duration(len(all))
	}
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	return r
}

func main() {
	duration := flag.Duration("duration", 5*time.Second, "load per variant per round")
	rounds := flag.Int("rounds", 3, "interleaved rounds (the median is reported)")
	workers := flag.Int("workers", 32, "concurrent keep-alive connections")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	only := flag.String("only", "", "comma-separated variants to run (default all)")
	child := flag.String("child", "", "internal: measure this one variant in this process and print JSON")
	flag.Parse()
	if *child == "" && *cpuprofile == "" {
		orchestrate(*only, *duration, *rounds, *workers)
		return
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	dir, err := os.MkdirTemp("", "sessiond-loadtest")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	be := serve(backend())
	up, _ := url.Parse(be)
	// The bare proxy gets the same upstream transport as the gateway.
	rp := &httputil.ReverseProxy{Transport: upstream.Pooled(),
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(up); pr.SetXForwarded() }}
	ctx := context.Background()
	sq, err := sqlite.New(ctx, sqlite.Config{Path: filepath.Join(dir, "s.db")})
	if err != nil {
		log.Fatal(err)
	}
	defer sq.Close()
	// The cookie store with its revocation list in SQLite, as the gateway
	// runs it (every request with a cookie costs a revocation lookup).
	revDB, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "revocations.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer revDB.Close()
	rev, err := cookie.NewSQLRevocations(ctx, cookie.SQLConfig{DB: revDB})
	if err != nil {
		log.Fatal(err)
	}
	codec, err := cookie.New(cookie.Config{Keys: [][]byte{cookie.GenerateKey()}, Revocations: rev})
	if err != nil {
		log.Fatal(err)
	}
	mem := memory.New(memory.Config{})
	defer mem.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *workers, MaxConnsPerHost: *workers},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	variants := []variant{{name: "backend", url: be}, {name: "proxy", url: serve(rp)}}
	for _, g := range []struct {
		name  string
		st    session.Store
		codec session.CookieCodec
	}{{"sessiond-sqlite", sq, nil}, {"sessiond-cookie", nil, codec}, {"sessiond-memory", mem, nil}} {
		u := gatewayFor(g.name, up, g.st, g.codec)
		variants = append(variants, variant{name: g.name, url: u, cookie: setup(client, u)})
	}
	if *child != "" {
		*only = "=" + *child
	}
	if *only != "" {
		// "-only a,b" runs those and the proxy; "-only =a" runs exactly a
		// (for profiling one variant alone).
		exact := strings.HasPrefix(*only, "=")
		keep := strings.Split(strings.TrimPrefix(*only, "="), ",")
		variants = slices.DeleteFunc(variants, func(v variant) bool {
			return !slices.Contains(keep, v.name) && (exact || v.name != "proxy")
		})
	}
	// Warm up every path once.
	for _, v := range variants {
		run(client, v, *workers, 300*time.Millisecond)
	}
	if *child != "" {
		r := run(client, variants[0], *workers, *duration)
		json.NewEncoder(os.Stdout).Encode(jsonResult{r.reqs, r.errs, r.rps, r.p50, r.p99, r.cpu})
		return
	}
	// Rounds rotate the order of the variants, so none always runs first
	// or last in a warm or a crowded process, and every ratio is paired:
	// a variant against the proxy of the same round.
	results := map[string][]result{}
	ratios := map[string][][3]float64{} // per round: throughput, p99, CPU per request vs that round's proxy
	for round := range *rounds {
		order := append(variants[round%len(variants):], variants[:round%len(variants)]...)
		got := map[string]result{}
		for _, v := range order {
			got[v.name] = run(client, v, *workers, *duration)
			results[v.name] = append(results[v.name], got[v.name])
		}
		p, ok := got["proxy"]
		if !ok {
			p = result{rps: 1, p99: 1, cpu: 1}
		}
		for name, r := range got {
			ratios[name] = append(ratios[name], [3]float64{r.rps / p.rps, float64(r.p99) / float64(p.p99), float64(r.cpu) / float64(p.cpu)})
		}
	}
	median := func(xs []float64) float64 {
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	fmt.Printf("gateway load test: %d workers, %v x %d rounds per variant (order rotated each round), loopback, client in the same process\n\n", *workers, *duration, *rounds)
	fmt.Printf("| variant | req/s (median) | p50 | p99 | CPU/req | throughput vs proxy (median of rounds) | p99 vs proxy | CPU/req vs proxy | errors |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, v := range variants {
		rs := results[v.name]
		var rps, p50, p99, cpu, tr, pr, cr []float64
		errs := 0
		for i, r := range rs {
			rps, p50, p99 = append(rps, r.rps), append(p50, float64(r.p50)), append(p99, float64(r.p99))
			cpu = append(cpu, float64(r.cpu))
			tr, pr, cr = append(tr, ratios[v.name][i][0]), append(pr, ratios[v.name][i][1]), append(cr, ratios[v.name][i][2])
			errs += r.errs
		}
		fmt.Printf("| %s | %.0f | %v | %v | %v | %.2fx | %.2fx | %.2fx | %d |\n", v.name, median(rps),
			time.Duration(median(p50)).Round(time.Microsecond), time.Duration(median(p99)).Round(time.Microsecond),
			time.Duration(median(cpu)).Round(100*time.Nanosecond), median(tr), median(pr), median(cr), errs)
	}
}

type jsonResult struct {
	Reqs, Errs int
	RPS        float64
	P50, P99   time.Duration
	CPU        time.Duration
}

var allVariants = []string{"backend", "proxy", "sessiond-sqlite", "sessiond-cookie", "sessiond-memory"}

// orchestrate measures every variant in a fresh child process of its own
// (so no variant inherits another's heap, goroutines or connections),
// round after round with the order rotated, and reports medians of the
// per-round ratios against the proxy.
func orchestrate(only string, d time.Duration, rounds, workers int) {
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	names := allVariants
	if only != "" {
		names = []string{"proxy"}
		for _, n := range strings.Split(strings.TrimPrefix(only, "="), ",") {
			if n != "proxy" {
				names = append(names, n)
			}
		}
	}
	results := map[string][]result{}
	ratios := map[string][][3]float64{}
	for round := range rounds {
		order := append(append([]string{}, names[round%len(names):]...), names[:round%len(names)]...)
		got := map[string]result{}
		for _, name := range order {
			out, err := exec.Command(self, "-child", name, "-duration", d.String(), "-workers", fmt.Sprint(workers)).Output()
			if err != nil {
				log.Fatalf("variant %s: %v", name, err)
			}
			var jr jsonResult
			if err := json.Unmarshal(out[bytesIndexJSON(out):], &jr); err != nil {
				log.Fatalf("variant %s: %v in %q", name, err, out)
			}
			r := result{reqs: jr.Reqs, errs: jr.Errs, rps: jr.RPS, p50: jr.P50, p99: jr.P99, cpu: jr.CPU}
			got[name] = r
			results[name] = append(results[name], r)
		}
		p := got["proxy"]
		for name, r := range got {
			ratios[name] = append(ratios[name], [3]float64{r.rps / p.rps, float64(r.p99) / float64(p.p99), float64(r.cpu) / float64(p.cpu)})
		}
	}
	median := func(xs []float64) float64 {
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	fmt.Printf("gateway load test: %d workers, %v x %d rounds per variant, each measurement in a fresh process, order rotated, loopback\n\n", workers, d, rounds)
	fmt.Printf("| variant | req/s (median) | p50 | p99 | CPU/req | throughput vs proxy | p99 vs proxy | CPU/req vs proxy | errors |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, name := range names {
		var rps, p50, p99, cpu, tr, pr, cr []float64
		errs := 0
		for i, r := range results[name] {
			rps, p50, p99, cpu = append(rps, r.rps), append(p50, float64(r.p50)), append(p99, float64(r.p99)), append(cpu, float64(r.cpu))
			tr, pr, cr = append(tr, ratios[name][i][0]), append(pr, ratios[name][i][1]), append(cr, ratios[name][i][2])
			errs += r.errs
		}
		fmt.Printf("| %s | %.0f | %v | %v | %v | %.2fx | %.2fx | %.2fx | %d |\n", name, median(rps),
			time.Duration(median(p50)).Round(time.Microsecond), time.Duration(median(p99)).Round(time.Microsecond),
			time.Duration(median(cpu)).Round(100*time.Nanosecond), median(tr), median(pr), median(cr), errs)
	}
}

// bytesIndexJSON finds the JSON line in a child's output (logs may precede it).
func bytesIndexJSON(b []byte) int {
	i := strings.LastIndex(string(b), "{")
	if i < 0 {
		return 0
	}
	return i
}

package main

import (
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summary is a target's medians over rounds, and its ratios paired with
// other targets of the same round.
type summary struct {
	rps, p50, p99, cpu float64
	beCPU, allCPU      float64
	errs               int64
	rounds             int
}

func summarize(ms []measurement) summary {
	var rps, p50, p99, cpu, beCPU, allCPU []float64
	var s summary
	for _, m := range ms {
		rps, p50, p99, cpu = append(rps, m.rps), append(p50, float64(m.p50)), append(p99, float64(m.p99)), append(cpu, float64(m.cpu))
		beCPU, allCPU = append(beCPU, float64(m.beCPU)), append(allCPU, float64(m.allCPU))
		s.errs += m.errs
	}
	s.rps, s.p50, s.p99, s.cpu, s.rounds = median(rps), median(p50), median(p99), median(cpu), len(ms)
	s.beCPU, s.allCPU = median(beCPU), median(allCPU)
	return s
}

// pairedRatio is the median over rounds of a's figure / b's figure in
// the same round (0 if either is missing).
func pairedRatio(res map[string][]measurement, a, b string, f func(measurement) float64) float64 {
	ma, mb := res[a], res[b]
	var rs []float64
	for i := range min(len(ma), len(mb)) {
		if d := f(mb[i]); d > 0 {
			rs = append(rs, f(ma[i])/d)
		}
	}
	return median(rs)
}

var (
	thr = func(m measurement) float64 { return m.rps }
	p99 = func(m measurement) float64 { return float64(m.p99) }
	cpu = func(m measurement) float64 { return float64(m.cpu) }
)

func ms(d float64) string { return fmt.Sprintf("%.2f", d/float64(time.Millisecond)) }
func us(d float64) string { return fmt.Sprintf("%.0f", d/float64(time.Microsecond)) }
func x(r float64) string {
	if r == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", r)
}

func report(w io.Writer, o options, targets []*target, res map[string][]measurement, mem []memRow, trusted bool) {
	load, _ := exec.Command("cat", "/proc/loadavg").Output()
	fmt.Fprintf(w, "\n## Gateway benchmark (bench/gateway)\n\n")
	fmt.Fprintf(w, "%s, %d CPUs, %s; wrk -t%d -c%d, %d rounds × %v per target, order rotated each round; load average at the end: %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), runtime.Version(), o.threads, o.conns, o.rounds, o.duration,
		strings.Join(strings.Fields(string(load))[:3], " "))
	if len(versions) > 0 {
		fmt.Fprintf(w, "Anchors: %s.\n\n", strings.Join(versions, "; "))
	}
	fmt.Fprintf(w, "Medians over rounds. Ratios are paired: each round's figure divided by the reference's figure of the same round, then the median of those. Server CPU µs/req is the server process's own CPU time (utime+stime from /proc/PID/stat; Apache, nginx, HAProxy: the parent and its worker processes) per request; backend CPU is the Go backend's (its own row: the backend alone); all CPU is every process of the machine, wrk included (/proc/stat), so on saturated cores req/s is about cores ÷ all CPU. oauth2-proxy-cookie/nocookie is its answer to a request without a session, the sign-in page (403, counted as no error).\n")
	groups := []struct{ key, title string }{
		{"read", "Read-only request with a valid session (plain HTTP)"},
		{"modify", "Modifying request (the backend answers X-Replace-Session)"},
		{"nocookie", "Request without a cookie (lazy sessions: no store access)"},
		{"https", "HTTPS (TLS at the server), read-only request with a valid session"},
	}
	byName := map[string]*target{}
	for _, t := range targets {
		byName[t.name] = t
	}
	for _, g := range groups {
		var rows []*target
		seen := map[string]bool{}
		for _, t := range targets {
			if t.group != g.key {
				continue
			}
			if r := byName[t.ref]; r != nil && r.group != g.key && !seen[r.name] {
				rows, seen[r.name] = append(rows, r), true
			}
			if !seen[t.name] {
				rows, seen[t.name] = append(rows, t), true
			}
		}
		if len(rows) <= 1 {
			continue
		}
		fmt.Fprintf(w, "\n### %s\n\n", g.title)
		fmt.Fprintf(w, "| target | req/s | p50 ms | p99 ms | server CPU µs/req | backend CPU µs/req | all CPU µs/req | ref | req/s ÷ ref | p99 ÷ ref | CPU ÷ ref | req/s ÷ Apache dbd | req/s ÷ Apache | errors |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, t := range rows {
			dbd, plainA := "apache-dbd", "apache"
			if t.ref == "proxy/tls" {
				dbd, plainA = "apache-dbd/tls", "apache/tls"
			}
			s := summarize(res[t.name])
			fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", t.name, s.rps, ms(s.p50), ms(s.p99), us(s.cpu), us(s.beCPU), us(s.allCPU), t.ref,
				x(pairedRatio(res, t.name, t.ref, thr)), x(pairedRatio(res, t.name, t.ref, p99)), x(pairedRatio(res, t.name, t.ref, cpu)),
				x(pairedRatio(res, t.name, dbd, thr)), x(pairedRatio(res, t.name, plainA, thr)), s.errs)
		}
	}

	// The targets, read-only request with a valid session.
	fmt.Fprintf(w, "\n### Targets (read-only request with a valid session, same run)\n\n| target | measured | verdict |\n|---|---:|---|\n")
	check := func(what string, got, limit float64, atMost bool) {
		if got == 0 {
			fmt.Fprintf(w, "| %s | not measured | — |\n", what)
			return
		}
		ok := got >= limit
		if atMost {
			ok = got <= limit
		}
		v := "met"
		if !ok {
			v = "**not met**"
		}
		fmt.Fprintf(w, "| %s | %.2f× | %s |\n", what, got, v)
	}
	check("sessiond SQLite ≥ 1.0× Apache plain mod_proxy (req/s)", pairedRatio(res, "sessiond-sqlite", "apache", thr), 1.0, false)
	check("sessiond SQLite ≥ 3× oauth2-proxy, cookie store (req/s)", pairedRatio(res, "sessiond-sqlite", "oauth2-proxy-cookie", thr), 3.0, false)
	check("sessiond Redis ≥ 1.0× bare proxy (req/s)", pairedRatio(res, "sessiond-redis", "proxy", thr), 1.0, false)
	check("sessiond PostgreSQL ≥ 1.0× bare proxy (req/s)", pairedRatio(res, "sessiond-postgres", "proxy", thr), 1.0, false)
	for _, st := range []string{"sqlite", "redis", "postgres"} {
		check("sessiond "+st+" p99 ≤ bare proxy's", pairedRatio(res, "sessiond-"+st, "proxy", p99), 1.0, true)
	}
	check("sessiond SQLite server CPU ≤ 2.5× the backend alone's", pairedRatio(res, "sessiond-sqlite", "backend", cpu), 2.5, true)
	check("sessiond SQLite ≥ 1.0× Apache mod_session_dbd (req/s)", pairedRatio(res, "sessiond-sqlite", "apache-dbd", thr), 1.0, false)
	if trusted {
		check("sessiond cookie store, HTTPS-only behind a trusted proxy ≥ 1.0× bare proxy", pairedRatio(res, "sessiond-cookie", "proxy", thr), 1.0, false)
	}
	check("sessiond cookie store, HTTPS-only, TLS at the gateway ≥ 1.0× bare proxy over TLS", pairedRatio(res, "sessiond-cookie/tls", "proxy/tls", thr), 1.0, false)

	if len(mem) > 0 {
		fmt.Fprintf(w, "\n### Memory per live session\n\n| server | sessions created | measured | before → after | per session | cookie value bytes |\n|---|---:|---|---:|---:|---:|\n")
		for _, r := range mem {
			per := fmtBytes(r.perSession)
			if r.what == "" {
				per = "0 (client-side)"
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s → %s | %s | %d |\n", r.name, r.sessions, orDash(r.what), fmtBytes(float64(r.before)), fmtBytes(float64(r.after)), per, r.cookieBytes)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// measurement is one wrk run against one target.
type measurement struct {
	reqs     int64
	rps      float64
	p50, p99 time.Duration
	errs     int64         // non-2xx/3xx responses and socket errors
	non2xx   int64         // of which non-2xx/3xx responses
	cpu      time.Duration // the server process's own CPU time per request
	beCPU    time.Duration // the backend process's CPU time per request
	allCPU   time.Duration // every process's CPU time per request (wrk included): /proc/stat
}

// backendPID is the backend process, whose CPU time every run counts too:
// a proxy's headers and connection use change what the backend spends.
var backendPID int

var (
	reRequests = regexp.MustCompile(`(\d+) requests in`)
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	rePct      = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$`)
)

// runWrk drives url for d with wrk (threads, conns keep-alive connections)
// and counts the CPU time pid (with tree: and its children) used meanwhile.
func runWrk(url string, headers []string, threads, conns int, d time.Duration, pid int, tree bool) (measurement, error) {
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", max(1, int(d.Round(time.Second).Seconds()))), "--latency", "--timeout", "5s"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	args = append(args, url)
	cpu0, be0, all0 := cpuTicks(pid, tree), cpuTicks(backendPID, false), machineTicks()
	out, err := exec.Command("wrk", args...).CombinedOutput()
	cpu1, be1, all1 := cpuTicks(pid, tree), cpuTicks(backendPID, false), machineTicks()
	if err != nil {
		return measurement{}, fmt.Errorf("wrk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	s := string(out)
	var m measurement
	if g := reRequests.FindStringSubmatch(s); g != nil {
		m.reqs, _ = strconv.ParseInt(g[1], 10, 64)
	}
	if g := reRPS.FindStringSubmatch(s); g != nil {
		m.rps, _ = strconv.ParseFloat(g[1], 64)
	}
	if g := reNon2xx.FindStringSubmatch(s); g != nil {
		m.non2xx, _ = strconv.ParseInt(g[1], 10, 64)
		m.errs += m.non2xx
	}
	if g := reSocket.FindStringSubmatch(s); g != nil {
		for _, x := range g[1:] {
			n, _ := strconv.ParseInt(x, 10, 64)
			m.errs += n
		}
	}
	for _, g := range rePct.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(g[2], 64)
		unit := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9}[g[3]]
		dur := time.Duration(v * unit)
		if g[1] == "50" {
			m.p50 = dur
		} else {
			m.p99 = dur
		}
	}
	if m.reqs == 0 || m.p99 == 0 {
		return m, fmt.Errorf("wrk output not understood:\n%s", s)
	}
	m.cpu = time.Duration(cpu1-cpu0) * clockTick / time.Duration(m.reqs)
	m.beCPU = time.Duration(be1-be0) * clockTick / time.Duration(m.reqs)
	m.allCPU = time.Duration(all1-all0) * clockTick / time.Duration(m.reqs)
	return m, nil
}

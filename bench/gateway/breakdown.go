package main

import (
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// breakdown prints where a CPU profile's time goes, by kind of work: each
// sample goes to the first frame, from the leaf up, that a rule of
// frameKind recognizes (so a syscall made by the Transport counts as a
// syscall, an allocation made by the gateway as an allocation).
func breakdown(w io.Writer, profile string) error {
	out, err := exec.Command("go", "tool", "pprof", "-traces", profile).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof -traces: %v", err)
	}
	kinds := map[string]time.Duration{}
	var total time.Duration
	for _, block := range strings.Split(string(out), "-----------+-------------------------------------------------------") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		m := reTraceHead.FindStringSubmatch(lines[0])
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		d := time.Duration(v * float64(map[string]time.Duration{"s": time.Second, "ms": time.Millisecond, "us": time.Microsecond}[m[2]]))
		frames := []string{strings.TrimSpace(m[3])}
		for _, l := range lines[1:] {
			frames = append(frames, strings.TrimSpace(l))
		}
		stack := strings.Join(frames, " ")
		kind := "other"
		for _, f := range frames {
			if k := frameKind(f, stack); k != "" {
				kind = k
				break
			}
		}
		kinds[kind] += d
		total += d
	}
	if total == 0 {
		return fmt.Errorf("%s: no samples", profile)
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int { return int(kinds[b] - kinds[a]) })
	fmt.Fprintf(w, "\n| where the CPU goes (%v of samples) | share |\n|---|---:|\n", total.Round(time.Millisecond))
	for _, k := range names {
		fmt.Fprintf(w, "| %s | %.1f%% |\n", k, 100*float64(kinds[k])/float64(total))
	}
	return nil
}

// storeStack reports whether a stack is a session store's client talking
// to its server.
func storeStack(stack string) bool {
	return strings.Contains(stack, "github.com/redis/go-redis") || strings.Contains(stack, "github.com/jackc/pgx")
}

var reTraceHead = regexp.MustCompile(`^\s*([\d.]+)(s|ms|us)\s+(\S.*)$`)

// frameKind is the kind of work a frame does, "" for frames that only
// pass the work on (generic runtime, bufio, io, …).
func frameKind(f, stack string) string {
	has := func(p ...string) bool {
		for _, x := range p {
			if strings.HasPrefix(f, x) {
				return true
			}
		}
		return false
	}
	const mod = "github.com/sessiond/sessiond/"
	switch {
	case has("crypto/"):
		return "TLS (crypto)"
	case has("runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcAssist"):
		return "GC (background mark, sweep, assists)"
	case has("runtime.mallocgc"):
		return "allocation (mallocgc)"
	case (f == "syscall.write" || f == "syscall.Write" || f == "syscall.read" || f == "syscall.Read") && storeStack(stack):
		return "system call: the session store's round trip (Redis, PostgreSQL)"
	case f == "syscall.write" || f == "syscall.Write":
		if strings.Contains(stack, "persistConnWriter") || strings.Contains(stack, "writeLoop") {
			return "system call: write the request to the backend"
		}
		return "system call: write the response to the client"
	case f == "syscall.read" || f == "syscall.Read":
		if strings.Contains(stack, "persistConn") {
			return "system call: read from the backend"
		}
		return "system call: read from the client"
	case has("syscall.Pread", "syscall.Fstat", "internal/poll.(*FD).Pread"):
		return "session store: SQLite cache check (pread, fstat)"
	case has("runtime.netpoll", "internal/runtime/syscall/linux.EpollWait"):
		return "runtime: netpoll"
	case has(mod+"store/", "github.com/redis/go-redis", "github.com/jackc/pgx", "github.com/jackc/puddle"):
		return "session store (load, cache, client library)"
	case has(mod + "session."):
		return "session middleware"
	case has(mod + "gateway/upstream"):
		return "gateway/upstream (Proxy, desync guard)"
	case has(mod):
		return "gateway (routing, protocol headers, identity, metrics)"
	case has("net/http.", "net/textproto.", "net/url."):
		if strings.Contains(stack, "persistConn") || strings.Contains(stack, "net/http.(*Transport)") {
			return "net/http Transport (client side)"
		}
		return "net/http server side, headers"
	case has("runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.mcall", "runtime.goready",
		"runtime.ready", "runtime.wakep", "runtime.chansend", "runtime.chanrecv", "runtime.selectgo", "runtime.gopark", "runtime.sysmon"):
		return "runtime: scheduling, channels"
	}
	return ""
}

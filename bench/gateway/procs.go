package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The harness runs its own backend and bare proxy as child processes of
// itself (GWBENCH_ROLE), so that each server's CPU time is its own.
const roleEnv = "GWBENCH_ROLE"

// pageBody is what the backend answers: a small dynamic page.
var pageBody = strings.Repeat("x", 512)

// backendHandler is the application behind every proxy:
//
//	/setup   creates a session: X-Replace-Session with a small cart
//	/modify  changes the session on every request (a counter)
//	/check   echoes the X-Session header it received (correctness probe)
//	else     a 512-byte page, no session change (the read-only request)
func backendHandler() http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		switch r.URL.Path {
		case "/setup":
			h.Set("X-Replace-Session", "cart=1%2c2%2c3&name=alice&theme=dark")
		case "/modify":
			h.Set("X-Replace-Session", "n="+strconv.FormatInt(n.Add(1), 10))
		case "/check":
			io.WriteString(w, "session="+r.Header.Get("X-Session")+"\n")
			return
		}
		io.WriteString(w, pageBody)
	})
}

// runRole serves one role until killed: "backend ADDR" or
// "proxy ADDR UPSTREAM [CERT KEY]".
func runRole(role string, args []string) {
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		log.Fatal(err)
	}
	var h http.Handler
	switch role {
	case "backend":
		h = backendHandler()
	case "proxy":
		up, err := url.Parse(args[1])
		if err != nil {
			log.Fatal(err)
		}
		// httputil.ReverseProxy with its defaults and the gateway's
		// upstream transport: what a Go developer would write.
		h = &httputil.ReverseProxy{Transport: upstreamTransport(),
			Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(up); pr.Out.Host = pr.In.Host; pr.SetXForwarded() }}
		if len(args) == 4 {
			cert, err := tls.LoadX509KeyPair(args[2], args[3])
			if err != nil {
				log.Fatal(err)
			}
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
		}
	default:
		log.Fatalf("unknown role %q", role)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Println("ready")
	log.Fatal(srv.Serve(ln))
}

// upstreamTransport has the settings of upstream.Pooled (what sessiond's
// upstream Transport runs on): the default transport with an idle pool
// sized for a proxy and no transparent compression. The harness imports nothing from the
// main module, so that it builds whatever the module's dependencies are.
func upstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// proc is a server process the harness started (and only those are stopped).
type proc struct {
	name string
	cmd  *exec.Cmd
	pid  int  // the server's process (Apache: the parent of its children)
	tree bool // count the CPU time of the process's children too (Apache)
	stop func()
}

var started []*proc

func stopAll() {
	for i := len(started) - 1; i >= 0; i-- {
		p := started[i]
		if p.stop != nil {
			p.stop()
			continue
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	}
	started = nil
}

// startProc starts a server and waits until it prints a line containing
// ready (or, with ready "", until addr accepts connections).
func startProc(name, logDir string, ready, addr string, env []string, bin string, args ...string) *proc {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		log.Fatal(err)
	}
	cmd.Stderr = logf
	var out io.Reader
	if ready != "" {
		pr, pw := io.Pipe()
		cmd.Stdout = pw
		out = pr
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		log.Fatalf("%s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, pid: cmd.Process.Pid}
	started = append(started, p)
	if ready != "" {
		found := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(out)
			ok := false
			for sc.Scan() {
				fmt.Fprintln(logf, sc.Text())
				if !ok && strings.Contains(sc.Text(), ready) {
					ok = true
					found <- true
				}
			}
			if !ok {
				found <- false
			}
		}()
		select {
		case ok := <-found:
			if !ok {
				fatalf("%s exited before it was ready; see %s", name, logf.Name())
			}
		case <-time.After(60 * time.Second):
			fatalf("%s not ready after 60s; see %s", name, logf.Name())
		}
	}
	if addr != "" {
		waitListening(name, addr)
	}
	return p
}

func waitListening(name, addr string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fatalf("%s: nothing listens on %s", name, addr)
}

// fatalf stops what the harness started, then exits.
func fatalf(format string, args ...any) {
	stopAll()
	log.Fatalf(format, args...)
}

// freeAddr returns a loopback address with a free port.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// cpuTicks is the user+system CPU time of pid (clock ticks), plus, with
// tree, that of its live children and of the children it has reaped.
func cpuTicks(pid int, tree bool) int64 {
	total, _ := readStat(pid)
	if !tree {
		return total
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		t, ppid := readStat(child)
		if ppid == pid {
			total += t
		}
	}
	return total + reapedTicks(pid)
}

// machineTicks is the CPU time every process of the machine has used
// (clock ticks): the user, nice, system, irq and softirq columns of the
// cpu line of /proc/stat (loopback TCP runs in softirq).
func machineTicks() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var total int64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		if i < len(f) {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			total += n
		}
	}
	return total
}

// readStat returns utime+stime and the parent pid from /proc/PID/stat.
func readStat(pid int) (ticks int64, ppid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	ppid, _ = strconv.Atoi(f[1])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st, ppid
}

// reapedTicks is cutime+cstime: children that exited and were waited for.
func reapedTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	cu, _ := strconv.ParseInt(f[13], 10, 64)
	cs, _ := strconv.ParseInt(f[14], 10, 64)
	return cu + cs
}

// rss is the resident set size of pid (and its children with tree), bytes.
func rss(pid int, tree bool) int64 {
	read := func(p int) int64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			return 0
		}
		for l := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				return kb << 10
			}
		}
		return 0
	}
	total := read(pid)
	if tree {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if c, err := strconv.Atoi(e.Name()); err == nil && c != pid {
				if _, ppid := readStat(c); ppid == pid {
					total += read(c)
				}
			}
		}
	}
	return total
}

// clockTick is the kernel's USER_HZ (100 on Linux).
const clockTick = 10 * time.Millisecond

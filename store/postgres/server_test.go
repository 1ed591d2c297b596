package postgres_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
)

// pgServer is a throw-away PostgreSQL cluster of the test's own, on a
// free loopback port, that the test may stop, freeze and restart.
type pgServer struct {
	t        testing.TB
	bin      string // directory of initdb, pg_ctl, postgres
	dir      string // owned by the server's OS user
	port     int
	runAs    []string // "runuser -u postgres --" when the test runs as root
	URL      string
	frozenPs []int
}

// startPGServer initdbs a cluster in a temporary directory and starts it.
// Missing PostgreSQL binaries (or, as root, a missing postgres OS user)
// skip the test, or fail it under CI.
func startPGServer(t testing.TB) *pgServer {
	t.Helper()
	inits, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(inits) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			inits = []string{p}
		}
	}
	if len(inits) == 0 {
		testenv.Unavailable(t, "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or PATH")
	}
	// The highest major version: /usr/lib/postgresql/<major>/bin/initdb.
	version := func(p string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return v
	}
	slices.SortFunc(inits, func(a, b string) int { return version(a) - version(b) })
	srv := &pgServer{t: t, bin: filepath.Dir(inits[len(inits)-1]), port: testenv.FreePort(t)}
	// t.TempDir's parents are private to this user; the server's OS user
	// needs its own directory, so use one directly under the temp root.
	dir, err := os.MkdirTemp("", "sessiond-pg-")
	if err != nil {
		t.Fatal(err)
	}
	srv.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 { // postgres refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			testenv.Unavailable(t, "running as root and no postgres OS user to run the test server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		srv.runAs = []string{testenv.LookPath(t, "runuser"), "-u", "postgres", "--"}
	}
	srv.run("initdb", "-D", srv.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions")
	srv.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", srv.port)
	srv.Start()
	t.Cleanup(func() {
		srv.Thaw()
		srv.pgctl("stop", "-m", "immediate") // ignore errors: it may already be down
	})
	return srv
}

func (s *pgServer) data() string { return filepath.Join(s.dir, "data") }

// run runs a server binary as the server's OS user and fails on error.
func (s *pgServer) run(name string, args ...string) {
	s.t.Helper()
	if out, err := s.command(name, args...); err != nil {
		s.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (s *pgServer) command(name string, args ...string) ([]byte, error) {
	argv := append(slices.Clone(s.runAs), filepath.Join(s.bin, name))
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func (s *pgServer) pgctl(args ...string) ([]byte, error) {
	return s.command("pg_ctl", append([]string{"-D", s.data(), "-w", "-t", "60"}, args...)...)
}

// Start starts the server (loopback TCP only, socket in its directory)
// and waits until it accepts connections.
func (s *pgServer) Start() {
	s.t.Helper()
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off", s.port, s.dir)
	if out, err := s.pgctl("start", "-l", filepath.Join(s.dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		s.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop shuts the server down the way an operator would (fast: open
// sessions are terminated).
func (s *pgServer) Stop() {
	s.t.Helper()
	if out, err := s.pgctl("stop", "-m", "fast"); err != nil {
		s.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// Freeze stops (SIGSTOP) the postmaster and every backend: connections
// stay open but nothing answers, like a hung host or a network partition.
func (s *pgServer) Freeze() {
	s.t.Helper()
	pid := s.postmasterPID()
	s.frozenPs = append([]int{pid}, childPIDs(pid)...)
	for _, p := range s.frozenPs {
		if err := syscall.Kill(p, syscall.SIGSTOP); err != nil {
			s.t.Fatalf("SIGSTOP %d: %v", p, err)
		}
	}
}

// Thaw resumes what Freeze stopped.
func (s *pgServer) Thaw() {
	for _, p := range slices.Backward(s.frozenPs) {
		syscall.Kill(p, syscall.SIGCONT)
	}
	s.frozenPs = nil
}

func (s *pgServer) postmasterPID() int {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.data(), "postmaster.pid"))
	if err != nil {
		s.t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		s.t.Fatalf("postmaster.pid: %v", err)
	}
	return pid
}

// childPIDs lists the processes whose parent is pid, from /proc.
func childPIDs(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces and parentheses.
		rest := string(b[bytes.LastIndexByte(b, ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			if child, err := strconv.Atoi(filepath.Base(filepath.Dir(st))); err == nil {
				out = append(out, child)
			}
		}
	}
	return out
}

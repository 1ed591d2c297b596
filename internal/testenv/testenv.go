// Package testenv finds the real servers tests run against. A server that
// cannot be reached skips the test with a clear message on a developer's
// machine, and fails it when CI=true: CI must never pass by skipping.
package testenv

import (
	"net"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

const (
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultRedis    = "redis://127.0.0.1:6379/0"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips t, or fails it under CI, naming what is missing.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true and a required service is missing: "+format, args...)
	}
	t.Skipf("skipping: "+format, args...)
}

func reachable(t testing.TB, env, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		t.Fatalf("%s=%q is not a URL: %v", env, rawURL, err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		Unavailable(t, "%s not reachable at %s (set %s): %v", u.Scheme, u.Host, env, err)
	}
	c.Close()
	return rawURL
}

// PostgresURL returns SESSIOND_TEST_POSTGRES (or the default) once the
// server answers on its port.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("SESSIOND_TEST_POSTGRES")
	if u == "" {
		u = defaultPostgres
	}
	return reachable(t, "SESSIOND_TEST_POSTGRES", u)
}

// RedisURL returns SESSIOND_TEST_REDIS (or the default) once the server
// answers on its port.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("SESSIOND_TEST_REDIS")
	if u == "" {
		u = defaultRedis
	}
	return reachable(t, "SESSIOND_TEST_REDIS", u)
}

// LookPath returns the path of a program the test needs, or skips/fails.
func LookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "%s not installed: %v", name, err)
	}
	return p
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		// The kernel may hand the same free port out twice in a row (a
		// test asking for two, for HTTP and HTTPS, got one): never return
		// a port this process has returned before.
		handedMu.Lock()
		seen := handed[port]
		handed[port] = true
		handedMu.Unlock()
		if !seen {
			return port
		}
	}
	t.Fatal("testenv: no free port that was not handed out before")
	return 0
}

var (
	handedMu sync.Mutex
	handed   = map[int]bool{}
)

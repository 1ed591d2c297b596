package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/store/redis"
)

// uniquePrefix gives each test its own key space on a shared server.
func uniquePrefix() string { return "sessiond-test:" + token.Ref() + ":" }

// sharedClient connects to the machine's Redis (testenv.RedisURL) and
// removes every key under prefix when t ends.
func sharedClient(t testing.TB, prefix string) *goredis.Client {
	t.Helper()
	o, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	o.ContextTimeoutEnabled = true
	c := goredis.NewClient(o)
	t.Cleanup(func() {
		deleteKeys(t, c, prefix)
		c.Close()
	})
	return c
}

func deleteKeys(t testing.TB, c goredis.UniversalClient, prefix string) {
	t.Helper()
	ctx := context.Background()
	del := func(ctx context.Context, node goredis.Cmdable) error {
		iter := node.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			// One DEL per key: in a cluster, keys of one batch live in
			// different slots.
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return del(ctx, n) })
	} else {
		err = del(ctx, c)
	}
	if err != nil {
		t.Errorf("cleaning up keys under %q: %v", prefix, err)
	}
}

// newStore makes a Store on the shared server with a fresh prefix.
func newStore(t testing.TB, cluster bool) (*redis.Store, *goredis.Client, string) {
	t.Helper()
	prefix := uniquePrefix()
	c := sharedClient(t, prefix)
	s, err := redis.New(redis.Config{Client: c, Prefix: prefix, Cluster: cluster})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, prefix
}

// server is a redis-server child process the test owns, on a loopback
// port, with no persistence.
type server struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
	out bytes.Buffer
}

func newServer(t testing.TB, port int, extra ...string) *server {
	t.Helper()
	s := &server{t: t, bin: testenv.LookPath(t, "redis-server"), port: port, dir: t.TempDir()}
	s.args = append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--daemonize", "no",
	}, extra...)
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *server) start() {
	s.t.Helper()
	s.mu.Lock()
	s.out.Reset()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = &s.out, &s.out
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatalf("starting redis-server: %v", err)
	}
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := goredis.NewClient(&goredis.Options{Addr: s.addr(), DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
		err := c.Ping(context.Background()).Err()
		c.Close()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.kill()
			s.t.Fatalf("redis-server on %s did not answer within 10s: %v\n%s", s.addr(), err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server abruptly (SIGKILL), as a crash would.
func (s *server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// freeze stops (SIGSTOP) or resumes (SIGCONT) the server: a hung server
// that still accepts TCP connections.
func (s *server) freeze(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sig := syscall.SIGCONT
	if on {
		sig = syscall.SIGSTOP
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// clusterPort returns a free loopback port whose cluster bus port (+10000)
// is free too.
func clusterPort(t testing.TB, taken map[int]bool) int {
	t.Helper()
	for range 200 {
		p := testenv.FreePort(t)
		if p+10000 > 65535 || taken[p] || taken[p+10000] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+10000)))
		if err != nil {
			continue
		}
		l.Close()
		taken[p], taken[p+10000] = true, true
		return p
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// startCluster starts a 3-master Redis Cluster on loopback and returns its
// node addresses once every node reports cluster_state:ok.
func startCluster(t testing.TB) []string {
	t.Helper()
	cli := testenv.LookPath(t, "redis-cli")
	taken := map[int]bool{}
	var addrs []string
	for range 3 {
		p := clusterPort(t, taken)
		dir := t.TempDir()
		newServer(t, p, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", p)),
			"--cluster-node-timeout", "2000")
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		c := goredis.NewClient(&goredis.Options{Addr: a})
		for {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("cluster node %s not ok within 20s: %v\n%s", a, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return addrs
}

// commandStats reads INFO commandstats as command -> calls.
func commandStats(t testing.TB, c goredis.UniversalClient) map[string]int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for line := range strings.Lines(info) {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			t.Fatalf("INFO commandstats line %q: %v", line, err)
		}
		out[name] = n
	}
	return out
}

// diffStats is after-before, without zero entries and without the INFO
// calls that read the stats.
func diffStats(before, after map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		if k == "info" {
			continue
		}
		if n := v - before[k]; n != 0 {
			d[k] = n
		}
	}
	return d
}

// counter is a go-redis hook that counts what the client sends: single
// commands and pipelines (one per node a pipeline reaches).
type counter struct {
	mu        sync.Mutex
	cmds      int
	pipelines int
	piped     int
	names     []string
	last      []any // the arguments of the last single command
}

func (c *counter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *counter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.mu.Lock()
		c.cmds++
		c.names = append(c.names, cmd.Name())
		c.last = cmd.Args()
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.mu.Lock()
		c.pipelines++
		c.piped += len(cmds)
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *counter) reset() (cmds, pipelines, piped int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cmds, pipelines, piped = c.cmds, c.pipelines, c.piped
	c.cmds, c.pipelines, c.piped, c.names, c.last = 0, 0, 0, nil, nil
	return
}

// lastArgs returns the arguments of the last single command sent.
func (c *counter) lastArgs() []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// bothModes runs f as a subtest on the single-node protocol and on the
// Cluster protocol (against the shared single node).
func bothModes(t *testing.T, f func(t *testing.T, cluster bool)) {
	t.Run("single", func(t *testing.T) { f(t, false) })
	t.Run("cluster-protocol", func(t *testing.T) { f(t, true) })
}

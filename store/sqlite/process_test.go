package sqlite_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/sqlite"
	"github.com/sessiond/sessiond/store/storetest"
)

// Child processes: the test binary re-executes itself with these variables
// set, and TestMain runs the child's part instead of the tests.
const (
	envChild  = "SESSIOND_SQLITE_CHILD" // "writer" or "opener"
	envPath   = "SESSIOND_SQLITE_PATH"
	envShared = "SESSIOND_SQLITE_SHARED" // opener: hex hash of the shared record
	envName   = "SESSIOND_SQLITE_NAME"   // opener: key prefix of this child
)

func TestMain(m *testing.M) {
	switch os.Getenv(envChild) {
	case "":
		os.Exit(m.Run())
	case "writer":
		childWriter()
	case "opener":
		childOpener()
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", envChild, os.Getenv(envChild))
		os.Exit(2)
	}
}

func childFatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "child: "+format+"\n", args...)
	os.Exit(3)
}

// ackWriter prints one line per acknowledged write, each in a single
// write(2) on an unbuffered stdout, only after the store returned nil.
type ackWriter struct{ mu sync.Mutex }

func (a *ackWriter) ack(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := fmt.Fprintf(os.Stdout, format+"\n", args...); err != nil {
		os.Exit(4) // parent gone
	}
}

// childWriter writes until killed: 4 goroutines, each creating a record
// ("C ref hash") and updating it three times ("U ref version").
func childWriter() {
	ctx := context.Background()
	s, err := sqlite.New(ctx, sqlite.Config{Path: os.Getenv(envPath)})
	if err != nil {
		childFatal("open: %v", err)
	}
	var out ackWriter
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				r := storetest.NewRecord()
				if err := s.Create(ctx, r.Clone()); err != nil {
					childFatal("create: %v", err)
				}
				out.ack("C %s %s", r.Ref, r.ID.Hex())
				for v := uint64(2); v <= 4; v++ {
					next := r.Clone()
					next.Version = v
					next.Data["v"] = strconv.FormatUint(v, 10)
					if err := s.Update(ctx, next, v-1); err != nil {
						childFatal("update: %v", err)
					}
					out.ack("U %s %d", r.Ref, v)
				}
			}
		})
	}
	wg.Wait()
}

// childOpener waits for "go" on stdin, opens the store (racing the other
// children to create the schema), races them to create the shared record
// ("W" if it won), then adds its own keys to it by compare-and-swap
// ("K key" per acknowledged key).
func childOpener() {
	if line, _ := bufio.NewReader(os.Stdin).ReadString('\n'); line != "go\n" {
		childFatal("no start signal")
	}
	ctx := context.Background()
	s, err := sqlite.New(ctx, sqlite.Config{Path: os.Getenv(envPath)})
	if err != nil {
		childFatal("open: %v", err)
	}
	defer s.Close()
	var h session.Hash
	if err := h.UnmarshalText([]byte(os.Getenv(envShared))); err != nil {
		childFatal("shared hash: %v", err)
	}
	var out ackWriter
	shared := storetest.NewRecord()
	shared.Ref, shared.ID, shared.Data = "shared", h, map[string]string{}
	switch err := s.Create(ctx, shared); {
	case err == nil:
		out.ack("W")
	case !errors.Is(err, session.ErrCollision):
		childFatal("create shared: %v", err)
	}
	for i := range 10 {
		key := fmt.Sprintf("%s-%d", os.Getenv(envName), i)
		for {
			cur, err := s.Load(ctx, h)
			if err != nil {
				childFatal("load shared: %v", err)
			}
			next := cur.Clone()
			if next.Data == nil { // an empty map is stored as none
				next.Data = map[string]string{}
			}
			next.Data[key] = "x"
			next.Version = cur.Version + 1
			err = s.Update(ctx, next, cur.Version)
			if errors.Is(err, session.ErrConflict) {
				continue
			}
			if err != nil {
				childFatal("update shared: %v", err)
			}
			out.ack("K %s", key)
			break
		}
	}
	if err := s.Close(); err != nil {
		childFatal("close: %v", err)
	}
	os.Exit(0)
}

func child(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestKill9LosesNoAcknowledgedWrite: a child process writes under load and
// prints each write once the store acknowledged it; the parent kills it
// with SIGKILL mid-stream, reopens the file and finds every acknowledged
// create and update.
func TestKill9LosesNoAcknowledgedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := child(t, envChild+"=writer", envPath+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	created := map[string]session.Hash{} // ref -> hash
	version := map[string]uint64{}       // ref -> highest acknowledged version
	read := func(line string) {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "C":
			var h session.Hash
			if err := h.UnmarshalText([]byte(f[2])); err != nil {
				t.Fatalf("bad line %q: %v", line, err)
			}
			created[f[1]] = h
			version[f[1]] = max(version[f[1]], 1)
		case len(f) == 3 && f[0] == "U":
			v, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatalf("bad line %q: %v", line, err)
			}
			version[f[1]] = max(version[f[1]], v)
		default:
			t.Fatalf("bad line %q", line)
		}
	}
	// A stuck child is killed too, and then fails the count check below.
	stuck := time.AfterFunc(60*time.Second, func() { cmd.Process.Signal(syscall.SIGKILL) })
	defer stuck.Stop()
	sc := bufio.NewScanner(stdout)
	for len(created) < 200 && sc.Scan() {
		read(sc.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // lines already in the pipe were acknowledged too
		read(sc.Text())
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	if len(created) < 50 {
		t.Fatalf("only %d records acknowledged before the kill; the child is too slow to test anything", len(created))
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Logf("no WAL left behind (%v): the kill landed after a checkpoint", err)
	}
	s := newStore(t, sqlite.Config{Path: path})
	ctx := context.Background()
	for ref, h := range created {
		got, err := s.Load(ctx, h)
		if err != nil {
			t.Fatalf("acknowledged record lost after kill -9: %v", err)
		}
		if got.Ref != ref || got.Version < version[ref] {
			t.Fatalf("record %s after kill -9: version %d, acknowledged %d", ref, got.Version, version[ref])
		}
		if got.Version > 1 && got.Data["v"] != strconv.FormatUint(got.Version, 10) {
			t.Fatalf("record %s: data %v does not match version %d (torn write)", ref, got.Data, got.Version)
		}
	}
	t.Logf("%d creates and %d acknowledged versions checked after SIGKILL", len(created), sum(version))
}

func sum(m map[string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

// TestProcessesShareOneFile: several processes open a fresh file at the
// same moment (racing to create the schema), race to create the same
// record (exactly one wins, the others see ErrCollision), then add keys to
// it by compare-and-swap. Every acknowledged key must be there.
func TestProcessesShareOneFile(t *testing.T) {
	const procs = 4
	path := filepath.Join(t.TempDir(), "shared.db")
	shared := storetest.NewRecord().ID
	type proc struct {
		cmd    *exec.Cmd
		in     io.WriteCloser
		lines  []string
		stderr strings.Builder
		done   chan struct{}
	}
	ps := make([]*proc, procs)
	for i := range ps {
		cmd := child(t, envChild+"=opener", envPath+"="+path, envShared+"="+hex.EncodeToString(shared[:]), fmt.Sprintf("%s=p%d", envName, i))
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		p := &proc{cmd: cmd, in: in, done: make(chan struct{})}
		cmd.Stderr = &p.stderr // read once Wait returns
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			defer close(p.done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				p.lines = append(p.lines, sc.Text())
			}
		}()
		ps[i] = p
	}
	for _, p := range ps { // start all at once
		io.WriteString(p.in, "go\n")
		p.in.Close()
	}
	wins, migrations, acked := 0, 0, map[string]bool{}
	for i, p := range ps {
		<-p.done
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, p.stderr.String())
		}
		migrations += strings.Count(p.stderr.String(), "schema migrated")
		for _, l := range p.lines {
			switch f := strings.Fields(l); {
			case len(f) == 1 && f[0] == "W":
				wins++
			case len(f) == 2 && f[0] == "K":
				acked[f[1]] = true
			default:
				t.Fatalf("child %d: bad line %q", i, l)
			}
		}
	}
	if wins != 1 {
		t.Fatalf("%d processes created the shared record, want exactly 1", wins)
	}
	if migrations != 1 {
		t.Fatalf("%d processes migrated the schema, want exactly 1", migrations)
	}
	s := newStore(t, sqlite.Config{Path: path})
	got, err := s.Load(context.Background(), shared)
	if err != nil {
		t.Fatal(err)
	}
	if len(acked) != procs*10 || len(got.Data) != len(acked) || got.Version != uint64(len(acked))+1 {
		t.Fatalf("%d keys acknowledged, record has %d keys at version %d; want %d, %d, %d",
			len(acked), len(got.Data), got.Version, procs*10, procs*10, procs*10+1)
	}
	for k := range acked {
		if _, ok := got.Data[k]; !ok {
			t.Fatalf("acknowledged key %s lost", k)
		}
	}
	if n := count(t, rawDB(t, path), `SELECT count(*) FROM schema_version`); n != 1 {
		t.Fatalf("schema_version has %d rows after %d concurrent opens, want 1", n, procs)
	}
}

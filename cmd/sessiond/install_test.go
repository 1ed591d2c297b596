package main_test

import (
	"bufio"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
)

// dockerStage is one FROM stage of the Dockerfile.
type dockerStage struct {
	from, workdir string
	env           []string
	run           []string
	user          string
	copies        []string
}

func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []dockerStage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		if word == "FROM" {
			stages = append(stages, dockerStage{from: rest})
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%q before FROM", line)
		}
		s := &stages[len(stages)-1]
		switch word {
		case "WORKDIR":
			s.workdir = rest
		case "ENV":
			s.env = append(s.env, strings.Fields(rest)...)
		case "RUN":
			s.run = append(s.run, rest)
		case "USER":
			s.user = rest
		case "COPY":
			s.copies = append(s.copies, rest)
		}
	}
	return stages
}

func dockerUsable() bool {
	if _, err := exec.LookPath("docker"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info").Run() == nil
}

// TestDockerfile: the image is multi-stage, ends on an empty base with a
// non-root user, and its build stage produces a static binary that runs.
// With a docker daemon the image itself is built; without one the build
// stage's own RUN commands are run here, with its ENV, into a directory
// standing for /out.
func TestDockerfile(t *testing.T) {
	root, _ := filepath.Abs("../..")
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(stages))
	}
	final := stages[len(stages)-1]
	if final.from != "scratch" {
		t.Errorf("final stage FROM %q, want scratch (a static binary needs nothing)", final.from)
	}
	if u, _, _ := strings.Cut(final.user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("final stage runs as %q, want a non-root user", final.user)
	}
	if dockerUsable() && (testenv.InCI() || os.Getenv("SESSIOND_TEST_DOCKER") == "1") {
		out, err := exec.Command("docker", "build", "-t", "sessiond:test", root).CombinedOutput()
		if err != nil {
			t.Fatalf("docker build: %v\n%s", err, out)
		}
		out, err = exec.Command("docker", "run", "--rm", "sessiond:test", "version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "sessiond ") {
			t.Fatalf("docker run sessiond:test version: %v\n%s", err, out)
		}
		return
	}
	build := stages[0]
	out := t.TempDir()
	env := append(os.Environ(), "GOFLAGS=")
	env = append(env, build.env...)
	for _, run := range build.run {
		cmd := exec.Command("sh", "-c", strings.ReplaceAll(run, "/out", out))
		cmd.Dir, cmd.Env = root, env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("RUN %s: %v\n%s", run, err, b)
		}
	}
	bin := filepath.Join(out, "sessiond")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary has a dynamic loader: not static (CGO_ENABLED=0 lost?)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) != 0 {
		t.Fatalf("the binary needs shared libraries %q", libs)
	}
	if v, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(v), "sessiond ") {
		t.Fatalf("built binary: %v\n%s", err, v)
	}
	for _, c := range final.copies {
		if src, ok := strings.CutPrefix(strings.Fields(c)[len(strings.Fields(c))-2], "/out/"); ok {
			if _, err := os.Stat(filepath.Join(out, src)); err != nil {
				t.Errorf("COPY %s: the build stage made no %s", c, src)
			}
		}
	}
}

// TestSystemdUnit: the unit reloads with SIGHUP, runs the gateway as its
// own user, and passes systemd-analyze verify where systemd is installed.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../../dist/sessiond.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecReload=/bin/kill -HUP $MAINPID", "ExecStart=/usr/local/bin/sessiond serve --config ",
		"User=sessiond", "NoNewPrivileges=yes"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: unit not verified")
		return
	}
	bin := buildSessiond(t)
	path := filepath.Join(t.TempDir(), "sessiond.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/sessiond", bin)), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

package main

import (
	"encoding/json"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// profileHook is compiled into a profiling build of sessiond with
// `go build -overlay` (the repository is not changed): SIGUSR1 starts a
// CPU profile, SIGUSR2 writes it to $GWBENCH_CPUPROFILE.
const profileHook = `package main

import (
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func init() {
	path := os.Getenv("GWBENCH_CPUPROFILE")
	if path == "" {
		return
	}
	c := make(chan os.Signal, 2)
	signal.Notify(c, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		var f *os.File
		for s := range c {
			switch {
			case s == syscall.SIGUSR1 && f == nil:
				f, _ = os.Create(path)
				pprof.StartCPUProfile(f)
			case s == syscall.SIGUSR2 && f != nil:
				pprof.StopCPUProfile()
				f.Close()
				f = nil
				os.WriteFile(path+".done", nil, 0o600)
			}
		}
	}()
}
`

// buildProfiling builds sessiond with profileHook added.
func buildProfiling(dir string) string {
	hook := filepath.Join(dir, "profhook.go")
	os.WriteFile(hook, []byte(profileHook), 0o600)
	root := repoRoot()
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(root, "cmd/sessiond/zz_gwbench_profile.go"): hook}})
	ovPath := filepath.Join(dir, "overlay.json")
	os.WriteFile(ovPath, ov, 0o600)
	bin := filepath.Join(dir, "sessiond-prof")
	cmd := exec.Command("go", "build", "-overlay", ovPath, "-o", bin, "./cmd/sessiond")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fatalf("go build (profiling): %v\n%s", err, out)
	}
	return bin
}

// profileTarget drives one target with wrk while its sessiond (a build
// with profileHook) writes a CPU profile to $GWBENCH_CPUPROFILE.
func profileTarget(o options, targets []*target) {
	var t *target
	for _, x := range targets {
		if x.name == o.profile {
			t = x
		}
	}
	if t == nil {
		fatalf("-profile %s: no such target", o.profile)
	}
	out := os.Getenv("GWBENCH_CPUPROFILE")
	runWrk(t.url, t.headers, o.threads, o.conns, o.warmup, t.pid, t.tree)
	syscall.Kill(t.pid, syscall.SIGUSR1)
	m, err := runWrk(t.url, t.headers, o.threads, o.conns, o.profileSecs, t.pid, t.tree)
	syscall.Kill(t.pid, syscall.SIGUSR2)
	if err != nil {
		fatalf("%v", err)
	}
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(out + ".done"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Printf("%s: %.0f req/s, p99 %v, %v CPU/req", t.name, m.rps, m.p99, m.cpu)
	log.Printf("profile written: go tool pprof -top %s", out)
	if err := breakdown(os.Stdout, out); err != nil {
		log.Printf("breakdown: %v", err)
	}
}

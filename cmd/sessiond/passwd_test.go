package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sessiond/sessiond/gateway/htpasswd"
)

// openPTY returns a new pseudo-terminal's master and slave ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestPasswdOnTerminal drives `sessiond passwd` through a pseudo-terminal
// as a person would: the password is not echoed, is asked twice, and is
// refused when the two differ or it is shorter than 8 characters.
func TestPasswdOnTerminal(t *testing.T) {
	bin := buildSessiond(t)
	for _, tc := range []struct {
		name, first, second string
		ok                  bool
		why                 string
	}{
		{"typed twice", "correct-horse", "correct-horse", true, ""},
		{"mismatch", "correct-horse", "correct-horsf", false, "differ"},
		{"too short", "short7!", "", false, "shorter than 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "users")
			master, slave := openPTY(t)
			cmd := exec.Command(bin, "passwd", "-cost", "4", file, "alice")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			out := make(chan string, 64)
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := master.Read(buf)
					if n > 0 {
						out <- string(buf[:n])
					}
					if err != nil {
						close(out)
						return
					}
				}
			}()
			var seen strings.Builder
			expect := func(s string) {
				t.Helper()
				deadline := time.After(10 * time.Second)
				for !strings.Contains(seen.String(), s) {
					select {
					case chunk, ok := <-out:
						if !ok {
							t.Fatalf("terminal closed before %q; got %q", s, seen.String())
						}
						seen.WriteString(chunk)
					case <-deadline:
						t.Fatalf("no %q on the terminal; got %q", s, seen.String())
					}
				}
			}
			// Type only once the prompt is out and echo is off, as a person
			// would (what was typed before is the terminal's business).
			echoOff := func() {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
					if err != nil {
						t.Fatal(err)
					}
					if tio.Lflag&unix.ECHO == 0 {
						return
					}
				}
				t.Fatal("passwd never turned the terminal's echo off")
			}
			expect("Password for alice: ")
			echoOff()
			fmt.Fprintf(master, "%s\r", tc.first)
			if tc.second != "" {
				expect("Again: ")
				echoOff()
				fmt.Fprintf(master, "%s\r", tc.second)
			}
			err := cmd.Wait()
			slave.Close()
			for chunk := range out {
				seen.WriteString(chunk)
			}
			if strings.Contains(seen.String(), tc.first) {
				t.Fatalf("the password was echoed: %q", seen.String())
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("passwd: %v\n%s", err, seen.String())
				}
				f, err := htpasswd.Open(htpasswd.Config{Path: file})
				if err != nil {
					t.Fatal(err)
				}
				if ok, _ := f.Verify("alice", tc.first); !ok {
					t.Fatal("the written hash does not verify the typed password")
				}
				return
			}
			if err == nil || !strings.Contains(seen.String(), tc.why) {
				t.Fatalf("passwd accepted (%v) or did not say %q: %q", err, tc.why, seen.String())
			}
			if _, err := os.Stat(file); err == nil {
				t.Fatal("a refused password still wrote the users file")
			}
		})
	}
}

// TestPasswdStdin: --stdin (and any non-terminal input) reads one line for
// scripts, with the same minimum length.
func TestPasswdStdin(t *testing.T) {
	bin := buildSessiond(t)
	file := filepath.Join(t.TempDir(), "users")
	for _, tc := range []struct {
		pw string
		ok bool
	}{{"seven77", false}, {"eight888", true}} {
		cmd := exec.Command(bin, "passwd", "--stdin", "-cost", "4", file, "bob")
		cmd.Stdin = strings.NewReader(tc.pw + "\n")
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.ok {
			t.Fatalf("--stdin %q: err %v, want ok=%v\n%s", tc.pw, err, tc.ok, out)
		}
	}
}

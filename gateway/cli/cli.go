// Package cli implements the sessiond command line: serve, check-config,
// demo, passwd, version. cmd/sessiond is only a main that calls Run.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"golang.org/x/term"

	"github.com/sessiond/sessiond/gateway/demo"
	"github.com/sessiond/sessiond/gateway/htpasswd"
)

const usage = `sessiond — secure web sessions for any backend.

Usage:
  sessiond serve --config FILE [--dev-tls]   run the gateway
  sessiond check-config FILE                 validate a config file and exit
  sessiond demo [flags]                      run the demo (no setup needed)
  sessiond passwd [--stdin] FILE USER        add or change a user (bcrypt); asks twice, no echo
  sessiond reload [--admin ADDR]             make a running gateway re-read its config (as SIGHUP)
  sessiond sessions list|show|revoke|revoke-user USER [REF]
                                             a user's sessions, through the admin API
  sessiond cookie decode --keys F --realm R  open a cookie-store session (Ref, user, data)
  sessiond version                           print the version

Run 'sessiond help COMMAND' (or 'sessiond COMMAND -h') for a command's flags;
'sessiond --version' prints the version.
`

// Run runs the command line and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"serve":        runServe,
		"check-config": runCheckConfig,
		"demo":         runDemo,
		"passwd":       runPasswd,
		"version":      runVersion,
		"reload":       runReload,
		"sessions":     runSessions,
		"cookie":       runCookie,
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "help":
		if len(args) < 2 {
			fmt.Fprint(stdout, usage)
			return 0
		}
		if _, ok := cmds[args[1]]; !ok {
			fmt.Fprintf(stderr, "sessiond: no command %q\n\n%s", args[1], usage)
			return 2
		}
		// A command's help is its own -h, on stdout.
		return Run(ctx, []string{args[1], "-h"}, stdout, stdout)
	case "-version", "--version", "-V":
		args = []string{"version"}
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sessiond: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "sessiond %s: %v\n", args[0], err)
	return 1
}

var errUsage = errors.New("usage")

func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sessiond %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, mapping a bad flag to errUsage (the flag package has
// printed why).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "demo [--http ADDR] [--https ADDR] [--data DIR]", stderr)
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP listen address (loopback only)")
	httpsAddr := fs.String("https", "127.0.0.1:8443", "HTTPS listen address (loopback only)")
	data := fs.String("data", "", "data directory (default: your cache directory/sessiond-demo)")
	if err := parse(fs, args); err != nil {
		return err
	}
	return demo.Run(ctx, demo.Options{DataDir: *data, HTTPAddr: *httpAddr, HTTPSAddr: *httpsAddr, Out: stdout})
}

// minPasswordLen is the shortest password passwd accepts.
const minPasswordLen = 8

func runPasswd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("passwd", "passwd [-cost N] [--stdin] FILE USER", stderr)
	cost := fs.Int("cost", 12, "bcrypt cost (10-14 are reasonable)")
	fromStdin := fs.Bool("stdin", false, "read the password as one line from standard input, without prompting (for scripts; also the default when standard input is not a terminal)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errUsage
	}
	file, user := fs.Arg(0), fs.Arg(1)
	var pw string
	if fd := int(os.Stdin.Fd()); !*fromStdin && term.IsTerminal(fd) {
		// At a terminal: no echo, asked twice.
		p1, err := readSecret(fd, stderr, fmt.Sprintf("Password for %s: ", user))
		if err != nil {
			return err
		}
		if len(p1) < minPasswordLen {
			return fmt.Errorf("password refused: shorter than %d characters", minPasswordLen)
		}
		p2, err := readSecret(fd, stderr, "Again: ")
		if err != nil {
			return err
		}
		if p1 != p2 {
			return errors.New("the passwords differ; nothing written")
		}
		pw = p1
	} else {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if len([]rune(pw)) < minPasswordLen {
		return fmt.Errorf("password refused: shorter than %d characters", minPasswordLen)
	}
	if err := htpasswd.Add(file, user, pw, *cost); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s written to %s (bcrypt, cost %d)\n", user, file, *cost)
	return nil
}

// readSecret prompts on w and reads a line from the terminal fd without
// echoing it.
func readSecret(fd int, w io.Writer, prompt string) (string, error) {
	fmt.Fprint(w, prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(w)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return string(b), nil
}

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "version", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
		v += " " + bi.GoVersion
	}
	fmt.Fprintf(stdout, "sessiond %s\n", v)
	return nil
}

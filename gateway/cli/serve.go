package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
)

// loadConfig reads and validates a config file, printing warnings and
// every problem (each already names the file and line) to stderr.
func loadConfig(path string, devTLS bool, stderr io.Writer) (*config.Config, error) {
	var opts []config.Option
	if devTLS {
		opts = append(opts, config.WithDevTLS())
	}
	cfg, warnings, err := config.LoadFile(path, opts...)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		fes := config.Errors(err)
		for _, fe := range fes {
			fmt.Fprintln(stderr, fe)
		}
		if len(fes) == 0 {
			return nil, fmt.Errorf("%w: %w", errInvalidConfig, err)
		}
		return nil, fmt.Errorf("%w (%d problems above)", errInvalidConfig, len(fes))
	}
	return cfg, nil
}

// build loads path and provisions everything serve runs, short of binding
// the listeners: the one path shared by serve, check-config and reload.
func build(ctx context.Context, path string, devTLS, check bool, stdout, stderr io.Writer) (*provisioned, error) {
	cfg, err := loadConfig(path, devTLS, stderr)
	if err != nil {
		return nil, err
	}
	p, err := provision(ctx, cfg, check, stdout, stderr)
	if err != nil {
		// Provisioning errors have no line: name the file once.
		return nil, fmt.Errorf("%w: %s: %w", errInvalidConfig, path, err)
	}
	return p, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "serve --config FILE [--dev-tls]", stderr)
	path := fs.String("config", "", "the YAML configuration file (required)")
	devTLS := fs.Bool("dev-tls", false, "serve HTTPS with a self-signed certificate (development, loopback)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *path == "" || fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	p, err := build(ctx, *path, *devTLS, false, stdout, stderr)
	if err != nil {
		return err
	}
	defer p.close()
	go p.gw.RunGC(ctx, 5*time.Minute)
	go tuneGC(ctx)
	// SIGHUP re-reads the users files at once (they are also watched).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				p.gw.ReloadUsers()
			}
		}
	}()
	l := p.listeners
	l.Ready = func(h, hs, a net.Addr) {
		for _, x := range []struct {
			name string
			addr net.Addr
		}{{"http", h}, {"https", hs}, {"admin", a}} {
			if x.addr != nil {
				fmt.Fprintf(stdout, "sessiond: %s listening on %s\n", x.name, x.addr)
			}
		}
		fmt.Fprintln(stdout, "sessiond: ready")
	}
	return p.gw.Serve(ctx, l)
}

// runCheckConfig runs what serve runs before it binds its listeners —
// parsing, validation, certificates, keys, users file, store connection,
// every site's provisioning — so a file passes exactly when serve would
// start with it. It creates no file: a missing SQLite database or audit
// log is only checked for a place to be created in.
func runCheckConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check-config", "check-config [--dev-tls] FILE", stderr)
	devTLS := fs.Bool("dev-tls", false, "check as `serve --dev-tls` would run")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	p, err := build(ctx, fs.Arg(0), *devTLS, true, stdout, stderr)
	if err != nil {
		return err
	}
	p.close()
	fmt.Fprintf(stdout, "%s: OK (%d sites)\n", fs.Arg(0), p.gw.SiteCount())
	return nil
}

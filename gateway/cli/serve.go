package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

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
func build(ctx context.Context, path string, devTLS bool, o provisionOptions, stdout, stderr io.Writer) (*provisioned, error) {
	cfg, err := loadConfig(path, devTLS, stderr)
	if err != nil {
		return nil, err
	}
	p, err := provision(ctx, cfg, o, stdout, stderr)
	if err != nil {
		// Provisioning errors have no line: name the file once.
		return nil, fmt.Errorf("%w: %s: %w", errInvalidConfig, path, err)
	}
	return p, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "serve --config FILE [--dev-tls] [--log-format auto|text|json]", stderr)
	path := fs.String("config", "", "the YAML configuration file (required)")
	devTLS := fs.Bool("dev-tls", false, "serve HTTPS with a self-signed certificate (development, loopback)")
	logFormat := fs.String("log-format", "auto", "log format: text, json, or auto (text on a terminal, JSON otherwise)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *path == "" || fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	log, err := newLogger(*logFormat, stderr)
	if err != nil {
		return err
	}
	// Packages that log through slog's default (users-file reloads, the
	// stores) join the same stream, in the same format.
	slog.SetDefault(log)
	p, err := build(ctx, *path, *devTLS, provisionOptions{log: log}, stdout, stderr)
	if err != nil {
		return err
	}
	run := newRunning(ctx, *path, *devTLS, p, log, stdout, stderr)
	defer run.stop()
	go tuneGC(ctx)
	// SIGHUP (and POST /reload on the admin listener, `sessiond reload`)
	// re-reads the configuration file.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				run.reload()
			}
		}
	}()
	l := p.listeners
	l.Handler, l.AdminHandler, l.External = run, run.admin(), true
	// Always a TLS config: a reload may add the HTTPS listener.
	l.TLS = &tls.Config{GetCertificate: run.getCertificate, GetConfigForClient: run.getConfigForClient, MinVersion: tls.VersionTLS12}
	// PROXY protocol listeners trust the running configuration's proxies.
	l.TrustedProxies = func() []netip.Prefix { return run.cur.Load().p.gw.TrustedProxies() }
	l.OnServe = func(rebind func(http, https, admin string) ([3]net.Addr, error)) {
		run.mu.Lock()
		run.rebind = rebind
		run.mu.Unlock()
	}
	l.Ready = func(h, hs, a net.Addr) {
		printListening(stdout, [3]net.Addr{h, hs, a})
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
	p, err := build(ctx, fs.Arg(0), *devTLS, provisionOptions{check: true}, stdout, stderr)
	if err != nil {
		return err
	}
	p.close()
	fmt.Fprintf(stdout, "%s: OK (%d sites)\n", fs.Arg(0), p.gw.SiteCount())
	return nil
}

// printListening says where the listeners (http, https, admin) are bound.
func printListening(w io.Writer, bound [3]net.Addr) {
	for i, name := range [3]string{"http", "https", "admin"} {
		if bound[i] != nil {
			fmt.Fprintf(w, "sessiond: %s listening on %s\n", name, bound[i])
		}
	}
}

package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/sessiond/sessiond/gateway"
	"github.com/sessiond/sessiond/gateway/config"
)

// loadConfig reads and validates a config file, printing warnings.
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	cfg, warnings, err := config.LoadFile(path)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		for _, fe := range config.Errors(err) {
			fmt.Fprintln(stderr, fe)
		}
		if len(config.Errors(err)) == 0 {
			fmt.Fprintln(stderr, err)
		}
		return nil, fmt.Errorf("%w: %s", errInvalidConfig, path)
	}
	return cfg, nil
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
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	p, err := provision(ctx, cfg, *devTLS, stdout, stderr)
	if err != nil {
		return err
	}
	defer p.close()
	go p.gw.RunGC(ctx, 5*time.Minute)
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

func runCheckConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check-config", "check-config FILE", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	cfg, err := loadConfig(fs.Arg(0), stderr)
	if err != nil {
		return err
	}
	// Provision the sites without opening the store or listening: every
	// error a start would hit in the sites shows up here.
	var errs []error
	for _, sc := range cfg.Sites {
		s, _, err := buildSite(sc, portOf(cfg.Listen.HTTP.Addr), portOf(cfg.Listen.HTTPS.Addr))
		if err == nil {
			_, err = gateway.CheckSite(s)
		}
		if err != nil {
			errs = append(errs, err)
			fmt.Fprintln(stderr, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", errInvalidConfig, fs.Arg(0))
	}
	fmt.Fprintf(stdout, "%s: OK (%d sites)\n", fs.Arg(0), len(cfg.Sites))
	return nil
}

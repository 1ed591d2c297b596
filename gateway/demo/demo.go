// Package demo runs `sessiond demo`: the gateway with embedded SQLite, a
// self-signed certificate for localhost and *.localhost, and three sites
// served by the examples/shop backend:
//
//   - shop.localhost: mixed mode; browse and fill the cart over HTTP,
//     /checkout, /account, /login and /admin over HTTPS (rules), /admin
//     only for the admin user;
//   - outlet.localhost: HTTPS-only, its own cart;
//   - catalog.localhost: shared product pages, sessions off.
//
// Every site runs with inspection on (the site's inspect key), so the shop's
// "session inspector" panel can show what the gateway did; the shop also
// has an attacker's view at SniffedPath. A tiny GeoIP database generated
// at start names 127.0.0.0/8 and ::1 "this machine" on the sessions page.
//
// Everything binds to loopback only.
package demo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/sessiond/sessiond/examples/shop"
	"github.com/sessiond/sessiond/gateway"
	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/htpasswd"
	"github.com/sessiond/sessiond/internal/devtls"
	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/store/sqlite"
)

// Users are the demo accounts, printed at start.
var Users = [][2]string{{"alice", "alice-demo"}, {"admin", "admin-demo"}}

// Options configures the demo. Zero values are the documented defaults.
type Options struct {
	DataDir   string // default: <user cache dir>/sessiond-demo
	HTTPAddr  string // default 127.0.0.1:8080
	HTTPSAddr string // default 127.0.0.1:8443
	Out       io.Writer
	Logger    *slog.Logger
	// Ready is called once the listeners are bound.
	Ready func(httpAddr, httpsAddr net.Addr)
}

// loopbackOnly refuses any address that is not on loopback: the demo is
// for one machine.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("demo: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("demo: %q is not a loopback address; the demo binds to loopback only", addr)
	}
	return nil
}

// Run starts the demo and blocks until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:8080"
	}
	if o.HTTPSAddr == "" {
		o.HTTPSAddr = "127.0.0.1:8443"
	}
	for _, a := range []string{o.HTTPAddr, o.HTTPSAddr} {
		if err := loopbackOnly(a); err != nil {
			return err
		}
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if o.DataDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		o.DataDir = filepath.Join(base, "sessiond-demo")
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("demo: data directory: %w", err)
	}

	cert, _, err := devtls.LoadOrCreate(filepath.Join(o.DataDir, "tls"), devtls.Options{
		Hosts: []string{"localhost", "*.localhost", "shop.localhost", "outlet.localhost", "catalog.localhost", "127.0.0.1", "::1"}})
	if err != nil {
		return fmt.Errorf("demo: certificate: %w", err)
	}
	usersPath := filepath.Join(o.DataDir, "users.htpasswd")
	if _, err := os.Stat(usersPath); errors.Is(err, os.ErrNotExist) {
		for _, u := range Users {
			if err := htpasswd.Add(usersPath, u[0], u[1], 10); err != nil {
				return fmt.Errorf("demo: users file: %w", err)
			}
		}
	}
	store, err := sqlite.New(ctx, sqlite.Config{Path: filepath.Join(o.DataDir, "sessions.db"), Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("demo: session store: %w", err)
	}
	defer store.Close()

	// One backend per site, each on its own loopback port, reached only
	// through the proxy and the session headers.
	locator, err := openDemoGeoIP(filepath.Join(o.DataDir, "geoip-demo.mmdb"))
	if err != nil {
		return fmt.Errorf("demo: GeoIP database: %w", err)
	}
	defer locator.Close()

	backend := func(name string) (*url.URL, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		sc := shop.Config{Name: name, Logger: o.Logger}
		if name == "shop" {
			sc.SniffedPath = SniffedPath
		}
		srv := &http.Server{Handler: shop.New(sc), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		context.AfterFunc(ctx, func() { srv.Close() })
		return &url.URL{Scheme: "http", Host: ln.Addr().String()}, nil
	}
	_, httpPort, _ := net.SplitHostPort(o.HTTPAddr)
	_, httpsPort, _ := net.SplitHostPort(o.HTTPSAddr)
	// The demo runs a configuration like any other, built in code: the
	// gateway's listeners (their ports make the redirect targets) and
	// three sites, one per session mode.
	cfg := config.Default()
	cfg.Listen.HTTP.Addr = o.HTTPAddr
	cfg.Listen.HTTPS = config.HTTPSListener{Addr: o.HTTPSAddr, DevTLS: true}
	for _, s := range []struct {
		name string
		mode config.Mode
	}{{"shop", config.ModeMixed}, {"outlet", config.ModeHTTPSOnly}, {"catalog", config.ModeOff}} {
		up, err := backend(s.name)
		if err != nil {
			return err
		}
		sc := config.DefaultSite()
		sc.Name, sc.Hosts, sc.Upstream, sc.Inspect = s.name, []string{s.name + ".localhost"}, up.String(), true
		sc.Session.Mode = s.mode
		if s.mode != config.ModeOff {
			sc.Auth.Htpasswd, sc.AuthRequired = usersPath, []string{"/admin"}
		}
		if s.mode == config.ModeMixed {
			for _, p := range []string{"/checkout", "/account", "/admin", "/.sessiond"} {
				sc.Redirects.Rules = append(sc.Redirects.Rules, config.RedirectRule{Path: p, To: secure.HTTPS})
			}
			sc.Redirects.Rules = append(sc.Redirects.Rules, config.RedirectRule{Form: "input[type=password]", To: secure.HTTPS})
		}
		cfg.Sites = append(cfg.Sites, sc)
	}
	if _, err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	g, err := gateway.New(&cfg, gateway.Runtime{Store: store, State: store, Locator: locator, Logger: o.Logger})
	if err != nil {
		return err
	}
	go g.RunGC(ctx, 5*time.Minute)

	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert.TLS}, MinVersion: tls.VersionTLS12}
	shopHTTPS, shopHTTP := cfg.Sites[0].Origin("https"), cfg.Sites[0].Origin("http")
	front := newSniffer(g, "shop.localhost", "sid", shopHTTP, shopHTTPS, o.HTTPAddr, o.HTTPSAddr)
	return g.Serve(ctx, gateway.Listeners{HTTP: o.HTTPAddr, HTTPS: o.HTTPSAddr, TLS: tlsCfg, Handler: front,
		Ready: func(h, hs, _ net.Addr) {
			printBanner(o.Out, httpPort, httpsPort, o.DataDir)
			if o.Ready != nil {
				o.Ready(h, hs)
			}
		}})
}

func printBanner(w io.Writer, httpPort, httpsPort, dir string) {
	fmt.Fprintf(w, `sessiond demo is running (loopback only). Data: %s
  shop (mixed HTTP/HTTPS):  http://shop.localhost:%[2]s/   checkout at https://shop.localhost:%[3]s/checkout
  outlet (HTTPS only):      https://outlet.localhost:%[3]s/
  catalog (no sessions):    http://catalog.localhost:%[2]s/
Demo users (log in at /login):
`, dir, httpPort, httpsPort)
	for _, u := range Users {
		fmt.Fprintf(w, "  %-6s password %s\n", u[0], u[1])
	}
	fmt.Fprintf(w, "The HTTPS certificate is self-signed (%s/tls); your browser will ask you to accept it. Ctrl-C stops.\n", dir)
}

// Package demo runs `sessiond demo`: the gateway with embedded SQLite, a
// self-signed certificate for localhost and *.localhost, and three sites
// served by the examples/shop backend (SPEC §2 "Demo"):
//
//   - shop.localhost: mixed mode; browse and fill the cart over HTTP,
//     /checkout, /account, /login and /admin over HTTPS (rules), /admin
//     only for the admin user;
//   - outlet.localhost: HTTPS-only, its own cart;
//   - catalog.localhost: shared product pages, sessions off.
//
// Every site runs with inspection on (SiteConfig.Inspect), so the shop's
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
	"github.com/sessiond/sessiond/gateway/htpasswd"
	"github.com/sessiond/sessiond/internal/devtls"
	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
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
	users, err := htpasswd.Open(htpasswd.Config{Path: usersPath, Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("demo: users file: %w", err)
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
	origins := func(host string) (string, string) {
		return "https://" + host + ":" + httpsPort, "http://" + host + ":" + httpPort
	}
	var sites []gateway.SiteConfig
	for _, s := range []struct {
		name string
		mode string
	}{{"shop", "mixed"}, {"outlet", "https-only"}, {"catalog", "off"}} {
		up, err := backend(s.name)
		if err != nil {
			return err
		}
		host := s.name + ".localhost"
		hs, h := origins(host)
		sc := gateway.SiteConfig{Name: s.name, Hosts: []string{host}, Upstream: up, HTTPSOrigin: hs, HTTPOrigin: h,
			Users: users, AuthRequired: []string{"/admin"}, EnforceOrigin: true, TrustedOrigins: []string{h, hs},
			Inspect: true, Session: session.Config{RotateEvery: 15 * time.Minute, Locator: locator}}
		switch s.mode {
		case "mixed":
			sc.Session.Mode = session.Mixed
			sc.Rules = []secure.Rule{
				{Path: "/login", To: secure.HTTPS, Credentials: true},
				{Path: "/logout", To: secure.HTTPS, Credentials: true},
				{Path: "/checkout", To: secure.HTTPS},
				{Path: "/account", To: secure.HTTPS},
				{Path: "/admin", To: secure.HTTPS},
				{Path: "/.sessiond", To: secure.HTTPS},
				{Form: "input[type=password]", To: secure.HTTPS},
			}
		case "off":
			sc.SessionsOff = true
			sc.Users = nil
			sc.AuthRequired = nil
			sc.Overall = secure.Never
		}
		sites = append(sites, sc)
	}
	g, err := gateway.New(gateway.Config{Sites: sites, Store: store, Logger: o.Logger})
	if err != nil {
		return err
	}
	go g.RunGC(ctx, 5*time.Minute)

	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert.TLS}, MinVersion: tls.VersionTLS12}
	shopHTTPS, shopHTTP := origins("shop.localhost")
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

package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/gateway"
	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/session"
)

// retireAfter is how long a replaced configuration stays open for the
// requests still running on it before its files are closed.
const retireAfter = time.Minute

// running is the configuration serve is running, replaced as a whole by
// a reload. The listeners stay; every request is handed to the gateway
// current when it arrived, so no connection is dropped, and a reload that
// fails leaves the running one untouched.
type running struct {
	path   string
	devTLS bool
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer

	mu      sync.Mutex // one reload at a time
	cur     atomic.Pointer[generation]
	baseCtx context.Context
	// rebind moves the listeners (gateway.Listeners.OnServe); nil until
	// serving.
	rebind func(http, https, admin string) ([3]net.Addr, error)
}

// generation is one provisioned configuration and its background work.
type generation struct {
	p      *provisioned
	cancel context.CancelFunc
}

func newRunning(ctx context.Context, path string, devTLS bool, p *provisioned, log *slog.Logger, stdout, stderr io.Writer) *running {
	r := &running{path: path, devTLS: devTLS, log: log, stdout: stdout, stderr: stderr, baseCtx: ctx}
	r.start(p)
	return r
}

func (r *running) start(p *provisioned) *generation {
	ctx, cancel := context.WithCancel(r.baseCtx)
	g := &generation{p: p, cancel: cancel}
	go p.gw.RunBackground(ctx, session.DefaultGCInterval)
	return r.cur.Swap(g)
}

// stop ends the current generation's background work and closes it.
func (r *running) stop() {
	if g := r.cur.Load(); g != nil {
		g.cancel()
		g.p.close()
	}
}

func (r *running) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.acmeHTTP(w, req) {
		return
	}
	r.cur.Load().p.gw.ServeHTTP(w, req)
}

// admin serves the current admin API, plus POST /reload (same token).
func (r *running) admin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		gw := r.cur.Load().p.gw
		if req.URL.Path != "/reload" {
			gw.AdminHandler().ServeHTTP(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case !gw.Authorized(req):
			w.Header().Set("WWW-Authenticate", `Bearer realm="sessiond admin"`)
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "missing or wrong bearer token"})
		case req.Method != http.MethodPost:
			w.Header().Set("Allow", "POST")
			w.WriteHeader(http.StatusMethodNotAllowed)
			json.NewEncoder(w).Encode(map[string]string{"error": "POST to reload"})
		default:
			if err := r.reload(); err != nil {
				w.WriteHeader(http.StatusUnprocessableEntity)
				json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
				return
			}
			json.NewEncoder(w).Encode(map[string]bool{"reloaded": true})
		}
	})
}

// getCertificate serves the current generation's certificate, so a
// reload's new certificate applies to the next TLS handshake.
func (r *running) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := r.cur.Load().p.cert; c != nil {
		return c, nil
	}
	return nil, errors.New("sessiond: no HTTPS certificate configured")
}

// reload re-reads the configuration file and, if it is valid, swaps it in:
// new sites, keys, certificates, users files, listen addresses; the same
// store when its configuration is unchanged. A moved listener finishes
// its in-flight requests before it closes. An invalid file, or a new
// address that cannot be bound, is logged (with file:line problems) and
// the running configuration stays, listeners included.
func (r *running) reload() (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		if err != nil {
			r.log.Error("sessiond: reload failed; the previous configuration keeps running", "config", r.path, "err", err)
		}
	}()
	old := r.cur.Load()
	// Users files are re-read in place first, so that users removed from
	// them lose their sessions (gateway.ReloadUsers).
	old.p.gw.ReloadUsers()

	var opts []config.Option
	if r.devTLS {
		opts = append(opts, config.WithDevTLS())
	}
	cfg, warnings, err := config.LoadFile(r.path, opts...)
	for _, w := range warnings {
		r.log.Warn("sessiond: config", "warning", w.String())
	}
	if err != nil {
		var lines []string
		for _, fe := range config.Errors(err) {
			lines = append(lines, fe.Error())
		}
		if len(lines) == 0 {
			return fmt.Errorf("%w: %w", errInvalidConfig, err)
		}
		return fmt.Errorf("%w: %s", errInvalidConfig, strings.Join(lines, "; "))
	}
	p, err := provision(r.baseCtx, cfg, provisionOptions{log: r.log, reuse: old.p}, r.stdout, r.stderr)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", errInvalidConfig, r.path, err)
	}
	if p.listeners.ProxyProtocol != old.p.listeners.ProxyProtocol {
		if p.kit == old.p.kit && old.p.storeClose == nil {
			old.p.storeClose, p.storeClose = p.storeClose, nil // the store stays with the running config
		}
		p.close()
		return fmt.Errorf("%w: %s: listen.http/https.proxy_protocol changed; restart sessiond to apply it", errInvalidConfig, r.path)
	}
	if to := listenAddrs(p.listeners); to != listenAddrs(old.p.listeners) {
		if err := r.move(to); err != nil {
			if p.kit == old.p.kit && old.p.storeClose == nil {
				old.p.storeClose, p.storeClose = p.storeClose, nil // the store stays with the running config
			}
			p.close()
			return fmt.Errorf("%w: %s: %w", errInvalidConfig, r.path, err)
		}
	}
	adoptACME(old.p, p)
	prev := r.start(p)
	prev.cancel()
	time.AfterFunc(retireAfter, prev.p.close) // requests still on it finish first
	r.log.Info("sessiond: configuration reloaded", "config", r.path, "sites", p.gw.SiteCount())
	return nil
}

func listenAddrs(l gateway.Listeners) [3]string { return [3]string{l.HTTP, l.HTTPS, l.Admin} }

// move rebinds the listeners to addrs and says where they listen now.
func (r *running) move(addrs [3]string) error {
	if r.rebind == nil {
		return errors.New("listen addresses changed before serving started")
	}
	bound, err := r.rebind(addrs[0], addrs[1], addrs[2])
	if err != nil {
		return err
	}
	printListening(r.stdout, bound)
	r.log.Info("sessiond: listen addresses changed", "http", addrs[0], "https", addrs[1], "admin", addrs[2])
	return nil
}

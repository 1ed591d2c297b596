// Package listen runs the gateway's HTTP, HTTPS and admin servers and
// moves them to new addresses while serving (a reload).
package listen

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/sessiond/sessiond/gateway/config"

	"github.com/pires/go-proxyproto"

	"github.com/sessiond/sessiond/session"
)

// shutdownGrace is how long in-flight requests get when a listener closes
// (Serve's end, or a reload that moved or dropped its address).
const shutdownGrace = 10 * time.Second

// Config says how the servers run; index 0 is HTTP, 1 HTTPS, 2 admin.
type Config struct {
	Handler [3]http.Handler
	TLS     [3]*tls.Config // HTTPS needs one
	// ProxyProtocol says which of the HTTP and HTTPS listeners expect a
	// PROXY protocol header, accepted only from TrustedProxies.
	ProxyProtocol  [2]bool
	TrustedProxies func() []netip.Prefix
	// ReadHeaderTimeout and IdleTimeout bound a client's connection
	// (defaults config.DefaultReadHeaderTimeout and DefaultIdleTimeout).
	ReadHeaderTimeout, IdleTimeout time.Duration
	Logger                         *slog.Logger
}

// Set runs the HTTP, HTTPS and admin servers and moves them to new
// addresses while running.
type Set struct {
	l       Config
	log     *slog.Logger
	handler [3]http.Handler // front, front, admin
	tls     [3]*tls.Config  // nil, l.TLS, nil
	errc    chan error

	mu      sync.Mutex
	servers [3]*server
	closing sync.WaitGroup // servers being shut down after a move
}

// server is one bound listener and its http.Server.
type server struct {
	addr string // as configured
	s    *http.Server
	ln   net.Listener
}

func (ls *Set) open(role int, addr string) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen %s: %w", addr, err)
	}
	if role < 2 && ls.l.ProxyProtocol[role] {
		// Before TLS: the PROXY header precedes the handshake.
		ln = &proxyproto.Listener{Listener: ln, ConnPolicy: ls.proxyPolicy,
			ReadHeaderTimeout: cmp.Or(ls.l.ReadHeaderTimeout, config.DefaultReadHeaderTimeout)}
	}
	if ls.tls[role] != nil {
		ln = tls.NewListener(ln, ls.tls[role])
	}
	s := &http.Server{Handler: ls.handler[role], ReadHeaderTimeout: cmp.Or(ls.l.ReadHeaderTimeout, config.DefaultReadHeaderTimeout),
		IdleTimeout:    cmp.Or(ls.l.IdleTimeout, config.DefaultIdleTimeout),
		MaxHeaderBytes: 32 << 10, TLSConfig: ls.tls[role],
		ErrorLog: slog.NewLogLogger(ls.log.Handler(), slog.LevelDebug)}
	return &server{addr: addr, s: s, ln: ln}, nil
}

// proxyPolicy judges a connection to a PROXY protocol listener when it is
// accepted: a trusted proxy must send a header (REQUIRE: without one, its
// first read fails and the connection closes before HTTP); any other peer
// is closed at once (ErrInvalidUpstream: the listener keeps accepting).
func (ls *Set) proxyPolicy(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
	var peer netip.Addr
	if a, ok := o.Upstream.(*net.TCPAddr); ok {
		peer, _ = netip.AddrFromSlice(a.IP)
	}
	if peer.IsValid() && session.TrustedPeer(peer, ls.l.TrustedProxies()) {
		return proxyproto.REQUIRE, nil
	}
	// Debug: any host on the network can cause one of these lines.
	ls.log.Debug("gateway: PROXY protocol listener: connection from a peer that is not a trusted proxy closed", "peer", peer)
	return proxyproto.REJECT, fmt.Errorf("%w: %v is not in trusted_proxies", proxyproto.ErrInvalidUpstream, peer)
}

func (ls *Set) serve(s *server) {
	if err := s.s.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		select {
		case ls.errc <- err:
		default:
		}
	}
}

// Bind moves the listeners to addrs (http, https, admin; "" closes one).
// Every new address is bound before anything changes, so a failure (a
// port in use) leaves the running listeners as they were. A listener that
// moved finishes its in-flight requests before it closes.
func (ls *Set) Bind(addrs [3]string) ([3]net.Addr, error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var fresh [3]*server
	for role, addr := range addrs {
		cur := ls.servers[role]
		if addr == "" || (cur != nil && cur.addr == addr) {
			continue
		}
		if role == 1 && ls.tls[1] == nil {
			closeServers(fresh)
			return [3]net.Addr{}, errors.New("gateway: HTTPS listener without a TLS config")
		}
		s, err := ls.open(role, addr)
		if err != nil {
			closeServers(fresh)
			return [3]net.Addr{}, err
		}
		fresh[role] = s
	}
	var bound [3]net.Addr
	for role, addr := range addrs {
		old := ls.servers[role]
		switch {
		case fresh[role] != nil:
			ls.servers[role] = fresh[role]
			go ls.serve(fresh[role])
		case addr == "":
			ls.servers[role] = nil
		default:
			old = nil // unchanged
		}
		if old != nil {
			ls.closing.Go(func() { shutdown(old) })
		}
		if s := ls.servers[role]; s != nil {
			bound[role] = s.ln.Addr()
		}
	}
	return bound, nil
}

// ShutdownAll ends every server, giving in-flight requests shutdownGrace.
func (ls *Set) ShutdownAll() {
	ls.mu.Lock()
	servers := ls.servers
	ls.servers = [3]*server{}
	ls.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range servers {
		if s != nil {
			wg.Go(func() { shutdown(s) })
		}
	}
	wg.Wait()
	ls.closing.Wait()
}

func shutdown(s *server) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	s.s.Shutdown(ctx)
}

func closeServers(servers [3]*server) {
	for _, s := range servers {
		if s != nil {
			s.ln.Close()
		}
	}
}

// New returns a Set with nothing bound yet.
func New(c Config) *Set {
	return &Set{l: c, log: c.Logger, handler: c.Handler, tls: c.TLS, errc: make(chan error, 1)}
}

// Err delivers the first error of a server that stopped on its own.
func (ls *Set) Err() <-chan error { return ls.errc }

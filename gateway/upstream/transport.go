// Package upstream is how the gateway talks to backends: every exchange
// goes through net/http's Transport, which frames HTTP/1.1 and keeps
// connections; nothing here reads or writes HTTP itself.
//
// Guarantee: a response the Transport reads on a kept-alive connection
// before any byte of the request it is taken for was written is never
// handed on as that request's response. A backend that sends more than
// it frames (a body on HEAD, 204 or 304, a Content-Length shorter than
// the body, bytes after a chunked body's end) leaves those bytes on the
// connection; the next request on that connection would read them as its
// own response, which is how one user's page reaches another. The
// Transport refuses such bytes when they arrive while the connection is
// idle, but it returns a connection to its pool before it looks, so a
// request that takes the connection at once can still be answered with
// them. Transport closes that gap: a connection's first write for a new
// request waits until the Transport's reader has come back to the
// connection (and so has seen any bytes left in its buffer), and a
// response that starts before the request was written marks the
// connection as out of step. Such a connection is closed, never reused,
// and the request is sent again on another connection when it has no
// body (GET, HEAD, OPTIONS); otherwise it fails with ErrDesync. The
// mis-framed response itself reached only the request that asked for it.
//
// A connection that carried a request body is closed after its response:
// a backend that answers without reading the body may read the body as a
// request of its own and answer it later, and such a late answer cannot
// be told from the next request's.
//
// What no proxy on HTTP/1.1 can tell apart is a backend that waits and
// sends its extra bytes just after the next request was written: they
// look like that request's response. Backends that frame correctly, or
// that send their extra bytes at once (every case above), are safe.
//
// Transport also bounds 1xx responses (a backend's 103 storm ends the
// exchange after Max1xx).
package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync/atomic"
	"time"
)

// ErrDesync is the error of a request whose connection was out of step:
// the response read for it began before the request was written.
var ErrDesync = errors.New("upstream: backend response arrived before its request was sent (a previous response was mis-framed)")

// ErrTooMany1xx ends an exchange whose backend sent more than Max1xx
// informational responses.
var ErrTooMany1xx = errors.New("upstream: too many 1xx responses from the backend")

// Max1xx is the number of informational (1xx) responses passed on for one
// request; one more ends the exchange.
const Max1xx = 5

// Pool sizes, as a proxy needs them (the default keeps two idle
// connections per host, so a busy gateway would reconnect on most requests).
const (
	MaxIdleConns        = 1024
	MaxIdleConnsPerHost = 256
	IdleConnTimeout     = 90 * time.Second
)

// readerWait bounds how long a request's first write waits for the
// Transport's reader to come back to a kept-alive connection. It returns
// within microseconds; the bound only keeps a stalled reader from
// stalling a request.
const readerWait = time.Second

// Config configures a Transport.
type Config struct {
	// ResponseHeaderTimeout bounds the wait for a response's head once the
	// request is written (0: no bound).
	ResponseHeaderTimeout time.Duration
	// Logger receives a warning for every out-of-step connection (nil:
	// slog.Default()).
	Logger *slog.Logger
}

// Transport is an http.RoundTripper over net/http's Transport with the
// guarantee in the package doc.
type Transport struct {
	base *http.Transport
	log  *slog.Logger
}

// Pooled is net/http's default transport with a pool sized for a proxy,
// and without transparent compression (the client's Accept-Encoding
// reaches the backend as the client sent it, and the backend's encoding
// reaches the client: the default would ask a backend for gzip on a
// client's behalf and decompress its answer in the gateway): what
// Transport runs on, and what a bare httputil.ReverseProxy to compare it
// with should use.
func Pooled() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	t.MaxIdleConns = MaxIdleConns
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	t.IdleConnTimeout = IdleConnTimeout
	return t
}

// New returns a Transport.
func New(c Config) *Transport {
	t := Pooled()
	t.ResponseHeaderTimeout = c.ResponseHeaderTimeout
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newConn(nc), nil
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Transport{base: t, log: log}
}

// CloseIdleConnections closes the pool's idle connections.
func (t *Transport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// RoundTrip sends req through net/http's Transport.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.Do(req, nil)
}

// Do is RoundTrip with the 1xx responses passed to on1xx (when not nil)
// as they arrive, before the final response; at most Max1xx.
func (t *Transport) Do(req *http.Request, on1xx func(code int, h textproto.MIMEHeader)) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, desync, err := t.roundTrip(req, on1xx)
		if !desync {
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		t.log.Warn("upstream: a kept-alive connection was out of step (the backend sent more than it framed); connection closed",
			"upstream", req.URL.Host, "method", req.Method, "retried", attempt == 0 && replayable(req))
		if attempt > 0 || !replayable(req) || req.Context().Err() != nil {
			return nil, ErrDesync
		}
	}
}

func hasBody(req *http.Request) bool {
	return (req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0
}

// replayable reports whether req can be sent again on another connection:
// it has no body, and its method is one a retry cannot repeat an effect of.
func replayable(req *http.Request) bool {
	if hasBody(req) {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// exchange follows one attempt of one request. Its hooks run on the
// caller's goroutine (GotConn) and the Transport's reader (the others).
type exchange struct {
	conn   atomic.Pointer[conn]
	desync atomic.Bool
	n1xx   atomic.Int32
	on1xx  func(code int, h textproto.MIMEHeader)
	cancel context.CancelCauseFunc // set when another trace's 1xx hook runs after ours
}

func (x *exchange) gotConn(info httptrace.GotConnInfo) {
	if c := guarded(info.Conn); c != nil {
		x.conn.Store(c)
		c.begin()
	}
}

func (x *exchange) gotFirstResponseByte() {
	if c := x.conn.Load(); c != nil && !c.answered() {
		x.desync.Store(true)
	}
}

func (x *exchange) got1xx(code int, h textproto.MIMEHeader) error {
	if x.n1xx.Add(1) > Max1xx {
		if x.cancel != nil {
			x.cancel(ErrTooMany1xx) // the composed hook's answer is the other trace's
		}
		return ErrTooMany1xx
	}
	if x.on1xx != nil {
		x.on1xx(code, h)
	}
	return nil
}

func (t *Transport) roundTrip(req *http.Request, on1xx func(int, textproto.MIMEHeader)) (*http.Response, bool, error) {
	ctx := req.Context()
	x := &exchange{on1xx: on1xx}
	if old := httptrace.ContextClientTrace(ctx); old != nil && old.Got1xxResponse != nil {
		// httptrace composes the two hooks and returns the other's error:
		// a storm is ended through the context instead.
		ctx, x.cancel = context.WithCancelCause(ctx)
	}
	trace := &httptrace.ClientTrace{
		GotConn:              x.gotConn,
		GotFirstResponseByte: x.gotFirstResponseByte,
		Got1xxResponse:       x.got1xx,
	}
	out := req.WithContext(httptrace.WithClientTrace(ctx, trace))
	if hasBody(req) {
		// A backend that answers without reading the body may take the
		// body for a request of its own and answer that too, after this
		// response: nothing then tells its answer from the next
		// request's. A connection that carried a body is not reused.
		out.Close = true
	}
	resp, err := t.base.RoundTrip(out)
	desync := x.desync.Load()
	if err != nil {
		if x.n1xx.Load() > Max1xx {
			err = ErrTooMany1xx
		}
		if x.cancel != nil {
			x.cancel(nil)
		}
		return nil, desync, err
	}
	if desync && x.cancel != nil {
		x.cancel(nil)
	}
	// Otherwise ctx ends with the request's own context: the body (or an
	// upgraded connection) stays usable until then.
	return resp, desync, nil
}

// guarded returns the conn under an HTTP/1.1 connection, plain or TLS
// (nil for HTTP/2, whose frames keep responses apart).
func guarded(nc net.Conn) *conn {
	if tc, ok := nc.(*tls.Conn); ok {
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			return nil
		}
		nc = tc.NetConn()
	}
	c, _ := nc.(*conn)
	return c
}

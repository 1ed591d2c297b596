package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"
)

// proxy forwards requests to one plain-HTTP upstream.
//
// The common request — GET, HEAD or OPTIONS without a body, upgrade or
// TE header — takes a direct path: the request is written on an idle
// keep-alive connection and its response read back in the handler's own
// goroutine (net/http's Transport hands every request to two goroutines
// of the connection and back, which on a busy gateway costs more CPU than
// the request itself), with a pooled copy buffer. Everything else
// (request bodies, WebSocket and other upgrades, HTTPS upstreams,
// upstream URLs with a path) goes through httputil.ReverseProxy. Both
// paths forward the same headers: hop-by-hop headers are dropped both
// ways, X-Forwarded-For/-Host/-Proto are set by the gateway (a client's
// copies and Forwarded never pass), 1xx responses and trailers pass
// through, and streamed responses are flushed as they come.
type proxy struct {
	site     string // for the error pages' link home
	upstream *url.URL
	direct   bool // the direct path applies to this upstream
	rp       *httputil.ReverseProxy
	log      *slog.Logger
	dialer   net.Dialer
	// headerTimeout bounds the wait for the response head (0: none).
	headerTimeout time.Duration

	mu   sync.Mutex
	idle []*upstreamConn // LIFO: the most recently used connection is the warmest
}

// Limits of the direct path, as net/http's Transport has them.
const (
	maxIdleUpstream     = 256              // idle connections kept (MaxIdleConnsPerHost)
	upstreamIdleTimeout = 90 * time.Second // an idle connection older than this is closed
	maxResponseHeader   = 1 << 20          // bytes of status line and headers
	max1xxResponses     = 5
)

func newProxy(site string, upstream *url.URL, log *slog.Logger, headerTimeout time.Duration) *proxy {
	p := &proxy{site: site, upstream: upstream, log: log, headerTimeout: headerTimeout,
		direct: upstream.Scheme == "http" && (upstream.Path == "" || upstream.Path == "/") && upstream.RawQuery == "" && upstream.User == nil,
		dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}}
	t := UpstreamTransport()
	t.ResponseHeaderTimeout = headerTimeout
	p.rp = &httputil.ReverseProxy{
		Transport: t,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.Out.Host = pr.In.Host // the backend sees the site's host name
			setForwarded(pr.Out.Header, pr.In)
		},
		BufferPool:   copyBuffers{},
		ErrorHandler: p.fail,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return p
}

func (p *proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errBodyTimeout) || bodyTimedOut(r):
		p.log.Warn("gateway: request body not received in time", "upstream", p.upstream.Host)
		w.Header().Set("Connection", "close")
		errorPage(w, p.site, http.StatusRequestTimeout, "The request body did not arrive in time.")
	case errors.As(err, &ne) && ne.Timeout():
		p.log.Error("gateway: upstream did not answer in time", "upstream", p.upstream.Host, "err", err)
		errorPage(w, p.site, http.StatusGatewayTimeout, "The site's backend did not answer in time. Please try again shortly.")
	default:
		p.log.Error("gateway: upstream failed", "upstream", p.upstream.Host, "err", err)
		errorPage(w, p.site, http.StatusBadGateway, "The site's backend is not answering. Please try again shortly.")
	}
}

// UpstreamTransport is the transport to backends: the default one with a
// pool of idle connections sized for a proxy (the default keeps only two
// per host, so a busy gateway would reconnect on most requests).
func UpstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = maxIdleUpstream
	t.IdleConnTimeout = upstreamIdleTimeout
	return t
}

// setForwarded sets the X-Forwarded-* headers of a forwarded request
// (httputil.ProxyRequest.SetXForwarded): the client's address, the host
// it asked for and the scheme it used to reach the gateway.
func setForwarded(out http.Header, in *http.Request) {
	if ip := clientAddr(in); ip != "" {
		out.Set("X-Forwarded-For", ip)
	} else {
		out.Del("X-Forwarded-For")
	}
	out.Set("X-Forwarded-Host", in.Host)
	if !requestSecure(in) {
		out.Set("X-Forwarded-Proto", "http")
	} else {
		out.Set("X-Forwarded-Proto", "https")
	}
}

// copyBuffers pools the 32 KiB body copy buffers (ReverseProxy allocates
// one per response without a BufferPool).
type copyBuffers struct{}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *bufPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { bufPool.Put(&b) }

// hopHeaders are the hop-by-hop headers (RFC 9110 §7.6.1) and the
// forwarding headers the gateway sets itself: never copied from a client.
var hopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "Forwarded": true,
}

// responseHop are the hop-by-hop headers of a response.
var responseHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// directFor reports whether r can take the direct path.
func (p *proxy) directFor(r *http.Request) bool {
	if !p.direct {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	if (r.Body != nil && r.Body != http.NoBody) || r.ContentLength != 0 || r.URL.Opaque != "" || !strings.HasPrefix(r.URL.Path, "/") {
		return false
	}
	h := r.Header
	return len(h["Upgrade"]) == 0 && len(h["Te"]) == 0 && len(h["Expect"]) == 0 && len(h["Trailer"]) == 0
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.directFor(r) {
		p.rp.ServeHTTP(w, r)
		return
	}
	p.serveDirect(w, r)
}

// upstreamConn is a keep-alive connection to the upstream.
type upstreamConn struct {
	conn     net.Conn
	lr       limitedConn
	br       *bufio.Reader
	bw       *bufio.Writer
	reused   bool
	lastUsed time.Time
}

// limitedConn bounds what a response's head may read.
type limitedConn struct {
	net.Conn
	left int64 // < 0: no limit
}

var errHeaderTooLarge = errors.New("gateway: upstream response header too large")

func (l *limitedConn) Read(b []byte) (int, error) {
	if l.left >= 0 {
		if l.left == 0 {
			return 0, errHeaderTooLarge
		}
		if int64(len(b)) > l.left {
			b = b[:l.left]
		}
	}
	n, err := l.Conn.Read(b)
	if l.left >= 0 {
		l.left -= int64(n)
	}
	return n, err
}

func (p *proxy) get(ctx context.Context) (*upstreamConn, error) {
	now := time.Now()
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if now.Sub(c.lastUsed) < upstreamIdleTimeout {
			p.mu.Unlock()
			return c, nil
		}
		c.conn.Close()
	}
	p.mu.Unlock()
	nc, err := p.dialer.DialContext(ctx, "tcp", canonicalAddr(p.upstream))
	if err != nil {
		return nil, err
	}
	c := &upstreamConn{conn: nc}
	c.lr = limitedConn{Conn: nc, left: -1}
	c.br = bufio.NewReaderSize(&c.lr, 4096)
	c.bw = bufio.NewWriterSize(nc, 4096)
	return c, nil
}

func (p *proxy) put(c *upstreamConn) {
	c.reused = true
	c.lastUsed = time.Now()
	p.mu.Lock()
	if len(p.idle) < maxIdleUpstream {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	c.conn.Close()
}

func canonicalAddr(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// serveDirect forwards a bodiless request on a pooled connection.
func (p *proxy) serveDirect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		c, err := p.get(ctx)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		// The client going away ends the exchange with the upstream too.
		stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(aLongTimeAgo) })
		resp, err := p.roundTrip(c, w, r)
		if err != nil {
			stop()
			c.conn.Close()
			// A kept-alive connection the upstream closed while it was
			// idle fails before any response: the request (idempotent,
			// no body) is sent again once, on a new connection.
			if errors.Is(err, errStale) && attempt == 0 && ctx.Err() == nil {
				continue
			}
			if ctx.Err() == nil {
				p.fail(w, r, err)
			}
			return
		}
		complete := p.copyResponse(w, resp)
		if stop() && complete && !resp.Close {
			p.put(c) // no deadline was set: the connection is clean
			return
		}
		c.conn.Close()
		if !complete && ctx.Err() == nil {
			// The body broke off: abort the client's response too, so
			// that it cannot take a truncated body for a whole one.
			panic(http.ErrAbortHandler)
		}
		return
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// errStale marks a failure on a reused connection before any byte of a
// response arrived.
var errStale = errors.New("gateway: kept-alive upstream connection closed")

// roundTrip writes r on c and reads the final response head, passing 1xx
// responses on to w.
func (p *proxy) roundTrip(c *upstreamConn, w http.ResponseWriter, r *http.Request) (*http.Response, error) {
	if err := p.writeRequest(c.bw, r); err != nil {
		if c.reused {
			return nil, fmt.Errorf("%w: %w", errStale, err)
		}
		return nil, err
	}
	if p.headerTimeout > 0 {
		c.conn.SetReadDeadline(time.Now().Add(p.headerTimeout))
		defer func() {
			// Cleared for the body (streams may be long), unless the client
			// left meanwhile (then the deadline is already in the past).
			if r.Context().Err() == nil {
				c.conn.SetReadDeadline(time.Time{})
				if r.Context().Err() != nil {
					c.conn.SetDeadline(aLongTimeAgo)
				}
			}
		}()
	}
	for n := 0; ; n++ {
		c.lr.left = maxResponseHeader
		if c.reused && n == 0 {
			if _, err := c.br.Peek(1); err != nil {
				c.lr.left = -1
				return nil, fmt.Errorf("%w: %w", errStale, err)
			}
		}
		resp, err := http.ReadResponse(c.br, r)
		c.lr.left = -1
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 {
			return resp, nil
		}
		if resp.StatusCode == http.StatusSwitchingProtocols || n >= max1xxResponses {
			return nil, fmt.Errorf("gateway: upstream answered %d", resp.StatusCode)
		}
		// 1xx (e.g. 103 Early Hints): passed on, as ReverseProxy does.
		h := w.Header()
		copyHeader(h, resp.Header)
		w.WriteHeader(resp.StatusCode)
		clear(h)
	}
}

// writeRequest writes the request line and headers (the client's minus
// hop-by-hop and forwarding headers, plus the gateway's X-Forwarded-*).
func (p *proxy) writeRequest(bw *bufio.Writer, r *http.Request) error {
	uri := r.URL.RequestURI()
	host := r.Host
	if host == "" {
		host = p.upstream.Host
	}
	if !validHeaderValue(host) || !validHeaderValue(uri) || !validHeaderValue(r.Method) {
		return errors.New("gateway: invalid request line")
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	exclude := hopHeaders
	if conn := r.Header["Connection"]; len(conn) > 0 {
		// Headers named in Connection are hop-by-hop too.
		exclude = make(map[string]bool, len(hopHeaders)+2)
		for k := range hopHeaders {
			exclude[k] = true
		}
		for _, v := range conn {
			for f := range strings.SplitSeq(v, ",") {
				if f = textproto.TrimString(f); f != "" {
					exclude[textproto.CanonicalMIMEHeaderKey(f)] = true
				}
			}
		}
	}
	if err := r.Header.WriteSubset(bw, exclude); err != nil {
		return err
	}
	if ip := clientAddr(r); ip != "" {
		bw.WriteString("X-Forwarded-For: ")
		bw.WriteString(ip)
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Forwarded-Host: ")
	bw.WriteString(host)
	if !requestSecure(r) {
		bw.WriteString("\r\nX-Forwarded-Proto: http\r\n\r\n")
	} else {
		bw.WriteString("\r\nX-Forwarded-Proto: https\r\n\r\n")
	}
	return bw.Flush()
}

// validHeaderValue refuses bytes that would end a line or a field.
func validHeaderValue(s string) bool {
	return !strings.ContainsAny(s, "\r\n\x00")
}

// copyResponse sends resp to w. It reports whether the whole body was
// read from the upstream (the connection is then reusable).
func (p *proxy) copyResponse(w http.ResponseWriter, resp *http.Response) bool {
	for _, k := range resp.Header["Connection"] {
		for f := range strings.SplitSeq(k, ",") {
			if f = textproto.TrimString(f); f != "" {
				resp.Header.Del(f)
			}
		}
	}
	for _, k := range responseHop {
		delete(resp.Header, k)
	}
	h := w.Header()
	copyHeader(h, resp.Header)
	announced := len(resp.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(resp.StatusCode)

	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	stream := resp.ContentLength == -1 || isEventStream(resp.Header.Get("Content-Type"))
	var rc *http.ResponseController
	if stream {
		rc = http.NewResponseController(w)
	}
	complete := true
	for {
		n, err := resp.Body.Read(*buf)
		if n > 0 {
			if _, werr := w.Write((*buf)[:n]); werr != nil {
				resp.Body.Close()
				return false // the client went away; the body was not read to the end
			}
			if stream {
				rc.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				p.log.Warn("gateway: reading the upstream's response failed", "upstream", p.upstream.Host, "err", err)
			}
			complete = false
			break
		}
	}
	resp.Body.Close() // fills resp.Trailer
	if !complete {
		return false
	}
	if len(resp.Trailer) > 0 {
		// Force chunking so that the trailers can follow the body.
		http.NewResponseController(w).Flush()
		if len(resp.Trailer) == announced {
			copyHeader(h, resp.Trailer)
		} else {
			for k, vv := range resp.Trailer {
				for _, v := range vv {
					h.Add(http.TrailerPrefix+k, v)
				}
			}
		}
	}
	return true
}

func isEventStream(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}

// copyHeader adds src's values to dst (values already in dst stay).
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		if old, ok := dst[k]; ok {
			dst[k] = append(old, vv...)
		} else {
			dst[k] = vv
		}
	}
}

package upstream

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ErrUnaskedSwitch is the error of a request without Upgrade that the
// backend answered with 101 Switching Protocols.
var ErrUnaskedSwitch = errors.New("upstream: backend switched protocols unasked")

// ProxyConfig configures a Proxy.
type ProxyConfig struct {
	// URL is the upstream: http or https, with an optional path that
	// prefixes every request's.
	URL *url.URL
	// ResponseHeaderTimeout bounds the wait for a response's head (0: none).
	ResponseHeaderTimeout time.Duration
	// Forwarded tells who the client is (an address, "" if unknown) and
	// whether it reached the gateway over HTTPS: the X-Forwarded-For and
	// X-Forwarded-Proto the upstream gets. Required.
	Forwarded func(*http.Request) (client string, https bool)
	// Error answers a request whose exchange failed before a response
	// was started (nil: a plain 502).
	Error func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives the proxy's warnings (nil: slog.Default()).
	Logger *slog.Logger
}

// Proxy forwards requests to one upstream through a Transport. Its
// forwarding rules are these, for every request: hop-by-hop headers
// (RFC 9110 §7.6.1, and those a Connection header names) are dropped
// both ways; X-Forwarded-For, -Host and -Proto are set from Forwarded and
// the request's host, and a client's copies and Forwarded never pass; no
// Go User-Agent is added; query strings that do not parse as a form are
// re-encoded; 1xx responses are passed on (at most Max1xx); trailers pass
// (announced or not); a streamed response (no length, or an event
// stream) is flushed as it comes; a body that breaks off aborts the
// client's response. Protocol upgrades (WebSocket) go through
// httputil.ReverseProxy with the same Transport.
type Proxy struct {
	cfg ProxyConfig
	t   *Transport
	rp  *httputil.ReverseProxy
	log *slog.Logger
}

// NewProxy returns a Proxy.
func NewProxy(c ProxyConfig) (*Proxy, error) {
	if c.URL == nil || (c.URL.Scheme != "http" && c.URL.Scheme != "https") || c.URL.Host == "" {
		return nil, fmt.Errorf("upstream: %v: not an http or https URL", c.URL)
	}
	if c.Forwarded == nil {
		return nil, errors.New("upstream: ProxyConfig.Forwarded is required")
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	if c.Error == nil {
		c.Error = func(w http.ResponseWriter, _ *http.Request, _ error) {
			http.Error(w, "Bad Gateway", http.StatusBadGateway)
		}
	}
	p := &Proxy{cfg: c, log: log, t: New(Config{ResponseHeaderTimeout: c.ResponseHeaderTimeout, Logger: log})}
	u := c.URL
	p.rp = &httputil.ReverseProxy{
		Transport: p.t,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			p.setForwarded(pr.Out.Header, pr.In)
		},
		BufferPool:   copyBuffers{},
		ErrorHandler: c.Error,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// CloseIdleConnections closes the upstream connections not in use.
func (p *Proxy) CloseIdleConnections() { p.t.CloseIdleConnections() }

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(r.Header["Upgrade"]) > 0 {
		p.rp.ServeHTTP(w, r)
		return
	}
	out := p.outgoing(r)
	if out.Body != nil {
		// The Transport may still read the body after the handler
		// returned (a write racing an early response): it must not
		// close the server's body then.
		out.Body = noClose{out.Body}
	}
	// 1xx responses arrive on the Transport's reader; none is written
	// once Do has returned.
	var mu sync.Mutex
	done := false
	resp, err := p.t.Do(out, func(code int, h textproto.MIMEHeader) {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		wh := w.Header()
		for k, vv := range h {
			wh[k] = vv
		}
		w.WriteHeader(code)
		clear(wh) // a 1xx's headers are its own
	})
	mu.Lock()
	done = true
	mu.Unlock()
	if err != nil {
		p.cfg.Error(w, r, err)
		return
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body.Close()
		p.cfg.Error(w, r, ErrUnaskedSwitch)
		return
	}
	p.copyResponse(w, r, resp)
}

// outgoing is the request to the upstream.
func (p *Proxy) outgoing(r *http.Request) *http.Request {
	u := p.cfg.URL
	out := &http.Request{
		Method:        r.Method,
		URL:           &url.URL{Scheme: u.Scheme, Host: u.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: cleanQuery(r.URL.RawQuery)},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, len(r.Header)+3),
		Body:          r.Body,
		ContentLength: r.ContentLength,
		Host:          r.Host,
	}
	if u.Path != "" && u.Path != "/" || u.RawPath != "" {
		out.URL.Path, out.URL.RawPath = joinPath(u, r.URL)
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	copyRequestHeader(out.Header, r.Header)
	p.setForwarded(out.Header, r)
	return out.WithContext(r.Context())
}

// setForwarded sets the X-Forwarded-* headers of a forwarded request.
func (p *Proxy) setForwarded(out http.Header, in *http.Request) {
	client, https := p.cfg.Forwarded(in)
	delete(out, "Forwarded")
	if client != "" {
		out["X-Forwarded-For"] = []string{client}
	} else {
		delete(out, "X-Forwarded-For")
	}
	out["X-Forwarded-Host"] = []string{in.Host}
	if https {
		out["X-Forwarded-Proto"] = []string{"https"}
	} else {
		out["X-Forwarded-Proto"] = []string{"http"}
	}
}

// hopHeaders are the hop-by-hop headers (RFC 9110 §7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forwardingHeaders are set by the proxy alone.
var forwardingHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// copyRequestHeader copies a client's header minus the hop-by-hop and
// forwarding headers; "Te: trailers" passes, and no Go User-Agent is
// added where the client sent none.
func copyRequestHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = vv
	}
	removeHop(dst)
	for _, k := range forwardingHeaders {
		delete(dst, k)
	}
	for _, v := range src["Te"] {
		if hasToken(v, "trailers") {
			dst["Te"] = []string{"trailers"}
			break
		}
	}
	if _, ok := dst["User-Agent"]; !ok {
		dst["User-Agent"] = []string{""}
	}
}

// removeHop drops the hop-by-hop headers and those Connection names.
func removeHop(h http.Header) {
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = textproto.TrimString(f); f != "" {
				delete(h, textproto.CanonicalMIMEHeaderKey(f))
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

func hasToken(v, token string) bool {
	for f := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(textproto.TrimString(f), token) {
			return true
		}
	}
	return false
}

// copyResponse sends resp to w.
func (p *Proxy) copyResponse(w http.ResponseWriter, r *http.Request, resp *http.Response) {
	defer resp.Body.Close()
	removeHop(resp.Header)
	h := w.Header()
	for k, vv := range resp.Header {
		h[k] = append(h[k], vv...)
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(resp.StatusCode)

	stream := resp.ContentLength == -1 || isEventStream(resp.Header.Get("Content-Type"))
	var rc *http.ResponseController
	if stream {
		rc = http.NewResponseController(w)
	}
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	for {
		n, err := resp.Body.Read(*buf)
		if n > 0 {
			if _, werr := w.Write((*buf)[:n]); werr != nil {
				return // the client went away
			}
			if stream {
				rc.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if r.Context().Err() == nil {
				p.log.Warn("upstream: reading the response failed", "upstream", p.cfg.URL.Host, "err", err)
				// The body broke off: abort the client's response too, so
				// that it cannot take a truncated body for a whole one.
				panic(http.ErrAbortHandler)
			}
			return
		}
	}
	resp.Body.Close() // fills resp.Trailer
	if len(resp.Trailer) == 0 {
		return
	}
	// Force chunking so that the trailers can follow the body.
	http.NewResponseController(w).Flush()
	h = w.Header() // the writer's map after the header was written
	if len(resp.Trailer) == announced {
		for k, vv := range resp.Trailer {
			h[k] = append(h[k], vv...)
		}
		return
	}
	for k, vv := range resp.Trailer {
		for _, v := range vv {
			h.Add(http.TrailerPrefix+k, v)
		}
	}
}

func isEventStream(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}

// cleanQuery re-encodes a query that does not parse as a form (as
// ReverseProxy does): an upstream never sees parameters the gateway
// would read differently.
func cleanQuery(s string) string {
	if strings.Count(s, "&") >= maxQueryParams {
		v, _ := url.ParseQuery(s)
		return v.Encode()
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			v, _ := url.ParseQuery(s)
			return v.Encode()
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				v, _ := url.ParseQuery(s)
				return v.Encode()
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

// maxQueryParams is url.ParseQuery's default limit (GODEBUG
// urlmaxqueryparams): a longer query does not parse whole.
const maxQueryParams = 10000

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// joinPath puts the upstream's path before the request's.
func joinPath(a, b *url.URL) (path, rawpath string) {
	ap, bp := a.EscapedPath(), b.EscapedPath()
	switch as, bs := strings.HasSuffix(ap, "/"), strings.HasPrefix(bp, "/"); {
	case as && bs:
		path, rawpath = a.Path+b.Path[1:], ap+bp[1:]
	case !as && !bs:
		path, rawpath = a.Path+"/"+b.Path, ap+"/"+bp
	default:
		path, rawpath = a.Path+b.Path, ap+bp
	}
	if a.RawPath == "" && b.RawPath == "" {
		rawpath = ""
	}
	return path, rawpath
}

// noClose keeps the Transport from closing the server's request body.
type noClose struct{ io.ReadCloser }

func (noClose) Close() error { return nil }

// copyBuffers pools the 32 KiB body copy buffers (for ReverseProxy too).
type copyBuffers struct{}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *bufPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { bufPool.Put(&b) }

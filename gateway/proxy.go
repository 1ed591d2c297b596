package gateway

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/sessiond/sessiond/gateway/upstream"
)

// proxy forwards requests to one upstream with httputil.ReverseProxy on
// an upstream.Transport: net/http frames every exchange, and a backend
// that mis-frames a response costs that response, never another user's
// (see package upstream). Hop-by-hop headers are dropped both ways,
// X-Forwarded-For/-Host/-Proto are set by the gateway (a client's copies
// and Forwarded never pass), 1xx responses and trailers pass through, and
// streamed responses are flushed as they come.
type proxy struct {
	site     string // for the error pages' link home
	upstream *url.URL
	rp       *httputil.ReverseProxy
	log      *slog.Logger
}

func newProxy(site string, u *url.URL, log *slog.Logger, headerTimeout time.Duration) *proxy {
	p := &proxy{site: site, upstream: u, log: log}
	p.rp = &httputil.ReverseProxy{
		Transport: upstream.New(upstream.Config{ResponseHeaderTimeout: headerTimeout, Logger: log}),
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the backend sees the site's host name
			setForwarded(pr.Out.Header, pr.In)
		},
		BufferPool:   copyBuffers{},
		ErrorHandler: p.fail,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.rp.ServeHTTP(w, r) }

func (p *proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errBodyTimeout) || bodyTimedOut(r):
		p.log.Warn("gateway: request body not received in time", "upstream", p.upstream.Host)
		w.Header().Set("Connection", "close")
		errorPage(w, p.site, http.StatusRequestTimeout, "The request body did not arrive in time.")
	case errors.Is(err, upstream.ErrDesync) || errors.Is(err, upstream.ErrTooMany1xx):
		p.log.Error("gateway: upstream broke the protocol", "upstream", p.upstream.Host, "err", err)
		errorPage(w, p.site, http.StatusBadGateway, "The site's backend sent a malformed response. Please try again shortly.")
	case errors.As(err, &ne) && ne.Timeout():
		p.log.Error("gateway: upstream did not answer in time", "upstream", p.upstream.Host, "err", err)
		errorPage(w, p.site, http.StatusGatewayTimeout, "The site's backend did not answer in time. Please try again shortly.")
	default:
		p.log.Error("gateway: upstream failed", "upstream", p.upstream.Host, "err", err)
		errorPage(w, p.site, http.StatusBadGateway, "The site's backend is not answering. Please try again shortly.")
	}
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

package gateway

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/sessiond/sessiond/gateway/upstream"
)

// newProxy is the site's backend for an upstream URL: an upstream.Proxy
// told who the client is as the gateway judged it (clientAddr,
// requestSecure), answering failures with the site's error pages.
func newProxy(p sitePages, u *url.URL, log *slog.Logger, headerTimeout time.Duration) (http.Handler, error) {
	f := failer{pages: p, host: u.Host, log: log}
	return upstream.NewProxy(upstream.ProxyConfig{
		URL:                   u,
		ResponseHeaderTimeout: headerTimeout,
		Forwarded:             forwarded,
		Error:                 f.fail,
		Logger:                log,
	})
}

// forwarded is what a backend is told of a request: the client's address
// and transport as the gateway judged them (behind a trusted proxy, what
// the proxy reported).
func forwarded(r *http.Request) (client string, https bool) { return clientAddr(r), requestSecure(r) }

// failer answers a failed upstream exchange with the site's error page.
type failer struct {
	pages sitePages
	host  string
	log   *slog.Logger
}

func (f failer) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, upstream.ErrBodyTimeout) || upstream.BodyTimedOut(r):
		f.log.Warn("gateway: request body not received in time", "upstream", f.host)
		w.Header().Set("Connection", "close")
		f.pages.error(w, http.StatusRequestTimeout, "The request body did not arrive in time.")
	case errors.Is(err, upstream.ErrDesync) || errors.Is(err, upstream.ErrTooMany1xx) || errors.Is(err, upstream.ErrUnaskedSwitch):
		f.log.Error("gateway: upstream broke the protocol", "upstream", f.host, "err", err)
		f.pages.error(w, http.StatusBadGateway, "The site's backend sent a malformed response. Please try again shortly.")
	case errors.As(err, &ne) && ne.Timeout():
		f.log.Error("gateway: upstream did not answer in time", "upstream", f.host, "err", err)
		f.pages.error(w, http.StatusGatewayTimeout, "The site's backend did not answer in time. Please try again shortly.")
	default:
		f.log.Error("gateway: upstream failed", "upstream", f.host, "err", err)
		f.pages.error(w, http.StatusBadGateway, "The site's backend is not answering. Please try again shortly.")
	}
}

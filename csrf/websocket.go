package csrf

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/sessiond/sessiond/session"
)

// Cross-site WebSocket hijacking: a page on any site may open a WebSocket
// to this one, and the browser sends the user's cookies with the
// handshake. The handshake is a GET, so neither http.CrossOriginProtection
// (unsafe methods only) nor a token applies; what the browser always sends
// with it is Origin. CheckWebSocket is that check, for servers and
// gateways that pass WebSockets through.

// CheckWebSocket refuses a WebSocket handshake (Upgrade: websocket) whose
// Origin is missing, unparsable ("null" included) or names another host
// than the request's own (port included) — unless it is exactly one of the
// trusted origins. A handshake that came over HTTPS (directly, or through
// one of Config.TrustedProxies) is also refused from any Origin that is not
// HTTPS, a trusted one included: a plain-HTTP page is whatever the network
// path made it, and no token layer stands behind this check to keep it from
// a mixed-mode site's secure cookie. Requests that are not WebSocket
// handshakes pass. The error wraps ErrCrossOrigin.
func (p *Protection) CheckWebSocket(r *http.Request) error {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return nil
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return errors.Join(ErrCrossOrigin, errors.New("WebSocket handshake without an Origin header"))
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return errors.Join(ErrCrossOrigin, errors.New("WebSocket handshake from an opaque or unparsable origin"))
	}
	if u.Scheme != "https" && session.IsSecureRequest(r, p.proxies) {
		return errors.Join(ErrCrossOrigin, errors.New("WebSocket handshake over HTTPS from a plain-HTTP origin"))
	}
	if p.trusted.has(origin) {
		return nil
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return errors.Join(ErrCrossOrigin, errors.New("WebSocket handshake from another origin"))
	}
	return nil
}

// originSet is the trusted origins, as AddTrustedOrigin accepted them.
// The zero value is empty and ready; it is safe for concurrent use.
type originSet struct {
	mu  sync.RWMutex
	set map[string]bool
}

func (s *originSet) add(origin string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = map[string]bool{}
	}
	s.set[origin] = true
}

func (s *originSet) has(origin string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.set[origin]
}

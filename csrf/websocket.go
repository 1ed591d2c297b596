package csrf

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Cross-site WebSocket hijacking: a page on any site may open a WebSocket
// to this one, and the browser sends the user's cookies with the
// handshake. The handshake is a GET, so neither http.CrossOriginProtection
// (unsafe methods only) nor a token applies; what the browser always sends
// with it is Origin. CheckWebSocket is that check, for servers and
// gateways that pass WebSockets through.

// CheckWebSocket refuses a WebSocket handshake (Upgrade: websocket) whose
// Origin is missing, unparsable ("null" included) or names another host
// than the request's own (any scheme, port included) — unless it is
// exactly one of the trusted origins. Requests that are not WebSocket
// handshakes pass. The error wraps ErrCrossOrigin.
func (p *Protection) CheckWebSocket(r *http.Request) error {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return nil
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return errors.Join(ErrCrossOrigin, errors.New("WebSocket handshake without an Origin header"))
	}
	if p.trusted.has(origin) {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
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

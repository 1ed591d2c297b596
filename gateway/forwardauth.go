package gateway

import (
	"net/http"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/forwardauth"
)

// isAuthRequest reports whether r is a proxy's auth request to s.
func (s *site) isAuthRequest(r *http.Request) bool {
	return s.cfg.ForwardAuth != nil && r.URL.Path == config.ForwardAuthPath
}

// newForwardAuth answers the auth requests of a forward-auth site.
func (s *site) newForwardAuth() *forwardauth.Handler {
	return forwardauth.New(forwardauth.Config{Hosts: s.cfg.Hosts, SessionData: s.cfg.ForwardAuth.SessionData,
		Trusted: s.trusted, SetIdentity: s.setIdentity, LoginURL: s.loginURL, ErrorPage: s.pages.error})
}

// authSite is the forward-auth site a trusted proxy's auth request is
// about when its Host names none (forwardauth.Host).
func (g *Gateway) authSite(r *http.Request) (*site, bool) {
	host, ok := forwardauth.Host(r, g.trusted)
	if !ok {
		return nil, false
	}
	s, ok := g.sites[host]
	if !ok || s.cfg.ForwardAuth == nil {
		return nil, false
	}
	return s, true
}

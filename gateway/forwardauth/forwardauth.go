// Package forwardauth answers a proxy's auth requests for a forward-auth
// site (config.Site.ForwardAuth): the site has no backend; a proxy
// in front of it (nginx auth_request, Caddy forward_auth, Traefik
// ForwardAuth) asks config.ForwardAuthPath about every request it serves
// and sends the login and logout paths and /.sessiond/ here. The answer:
//
//   - a signed-in session: 200 with the identity headers a proxied
//     request gets (setIdentity: user, Ref, X-Session-Secure, the token
//     for the logout form, and the session data if
//     ForwardAuth.SessionData), taken from the session alone. A rotated or refreshed cookie rides on the answer as
//     Set-Cookie; the proxy copies it to the browser (docs/forward-auth.md).
//   - otherwise, when the proxy said which URL it is protecting with
//     X-Forwarded-Uri (Caddy, Traefik): a redirect to the login page with
//     that URL as next=; else (nginx auth_request, which takes 401 and
//     nothing else) 401, with the same login URL in Location for the
//     proxy's error page.
//
// The original URL is believed only from trusted_proxies, read before the
// client's forwarding headers are stripped (stripSpoofed), and always
// passes login.SafeNext: a same-site relative path or "/".
package forwardauth

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/inspect"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/internal/redirect"
	"github.com/sessiond/sessiond/session"
)

// Config is what a forward-auth site's handler needs from the site.
type Config struct {
	Hosts       []string // the site's host names
	SessionData bool     // the answer carries the session data too
	Trusted     []netip.Prefix
	// SetIdentity sets the identity headers a proxied request gets.
	SetIdentity func(h http.Header, r *http.Request, sess *session.Session, data bool)
	LoginURL    func(next string) string
	ErrorPage   func(w http.ResponseWriter, code int, msg string)
}

// Handler answers a forward-auth site's auth requests.
type Handler struct{ c Config }

// New returns the handler of a site.
func New(c Config) *Handler { return &Handler{c: c} }

// Host is the site host a trusted proxy's auth request r is about when its
// Host names none (Traefik sends the address's host and the original one
// in X-Forwarded-Host); ok is false for any other request.
func Host(r *http.Request, trusted []netip.Prefix) (host string, ok bool) {
	if r.URL.Path != config.ForwardAuthPath || !session.FromTrustedProxy(r, trusted) {
		return "", false
	}
	host = strings.ToLower(r.Header.Get("X-Forwarded-Host"))
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(host, "."), true
}

// authOrigin is what a trusted proxy said about the request it is
// authorizing.
type authOrigin struct {
	uri      string // X-Forwarded-Uri, else X-Original-URI
	host     string // X-Forwarded-Host ("" if none)
	redirect bool   // X-Forwarded-Uri was sent: answer with a redirect
}

type forwardedKey struct{}

// Keep notes, for an auth request from a trusted proxy, the
// original URL the proxy sent; from any other peer nothing is noted.
func (s *Handler) Keep(r *http.Request) *http.Request {
	if !session.FromTrustedProxy(r, s.c.Trusted) {
		return r
	}
	f := authOrigin{uri: r.Header.Get("X-Forwarded-Uri"), host: r.Header.Get("X-Forwarded-Host")}
	f.redirect = f.uri != ""
	if f.uri == "" {
		f.uri = r.Header.Get("X-Original-URI")
	}
	return r.WithContext(context.WithValue(r.Context(), forwardedKey{}, f))
}

// ServeHTTP answers a proxy's auth request.
func (s *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if sess := session.FromContext(r.Context()); sess != nil && sess.User() != "" {
		s.c.SetIdentity(h, r, sess, s.c.SessionData)
		w.WriteHeader(http.StatusOK)
		return
	}
	f, _ := r.Context().Value(forwardedKey{}).(authOrigin)
	next := "/"
	if f.host == "" || s.hasHost(f.host) {
		next = login.SafeNext(f.uri)
	}
	inspect.SetWhy(r, "auth")
	h.Set("Location", s.c.LoginURL(next))
	if f.redirect {
		w.WriteHeader(redirect.Status(r.Method, false))
		return
	}
	s.c.ErrorPage(w, http.StatusUnauthorized, "Login required.")
}

// hasHost reports whether host (a Host header: name, maybe a port) is one
// of the site's.
func (s *Handler) hasHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	return slices.ContainsFunc(s.c.Hosts, func(n string) bool { return strings.EqualFold(n, host) })
}

// NoBackend answers, on a forward-auth site, every path the gateway
// does not serve itself: the proxy should not have sent it here.
func (s *Handler) NoBackend(w http.ResponseWriter, r *http.Request) {
	s.c.ErrorPage(w, http.StatusNotFound, "This address only signs users in for the site in front of it.")
}

package gateway

import (
	"bufio"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/sessiond/sessiond/gateway/inspect"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/upstream"
	"github.com/sessiond/sessiond/internal/redirect"
	"github.com/sessiond/sessiond/session"
)

// backendWriter sits between the backend and the session middleware's
// writer. The backend writes into a header map of its own: the headers
// the gateway set before the backend ran (a rotated remember-me key, the
// Apache cookie's clearing line, HSTS) are never touched by it, and a 1xx
// response carries only what the backend put in it, minus the protocol
// headers and the gateway's cookies. When the final headers arrive the
// backend's session headers are applied and removed, then the rest is
// added to the gateway's, before anything reaches the client.
type backendWriter struct {
	http.ResponseWriter
	site    *site
	sess    *session.Session
	r       *http.Request
	h       http.Header // the backend's own, until the final header
	n1xx    int
	done    bool
	swallow bool // the response was replaced (require-secure)
}

func (b *backendWriter) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// Header is the backend's header map until the final header is written,
// then the response's (trailers are set after the body).
func (b *backendWriter) Header() http.Header {
	if b.done {
		return b.ResponseWriter.Header()
	}
	return b.h
}

func (b *backendWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		if !b.done && b.n1xx < upstream.Max1xx { // in-process and CGI backends too
			b.n1xx++
			b.interim(code)
		}
		return
	}
	if !b.done {
		b.done = true
		if b.apply() {
			b.swallow = true
			return
		}
	}
	if b.swallow {
		return
	}
	b.ResponseWriter.WriteHeader(code)
}

// interim sends a 1xx response with the backend's current headers only,
// leaving the gateway's header map as it was.
func (b *backendWriter) interim(code int) {
	out := b.h.Clone()
	stripResponse(b.site.headers, out)
	b.site.dropOwnCookies(out)
	h := b.ResponseWriter.Header()
	saved := h.Clone()
	clear(h)
	copyHeader(h, out)
	b.ResponseWriter.WriteHeader(code)
	clear(h)
	copyHeader(h, saved)
}

func (b *backendWriter) Write(p []byte) (int, error) {
	if !b.done {
		b.WriteHeader(http.StatusOK)
	}
	if b.swallow {
		return len(p), nil
	}
	return b.ResponseWriter.Write(p)
}

func (b *backendWriter) Flush() {
	if !b.done {
		b.WriteHeader(http.StatusOK)
	}
	if f, ok := b.ResponseWriter.(http.Flusher); ok && !b.swallow {
		f.Flush()
	}
}

func (b *backendWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !b.done {
		b.done = true
		b.apply()
	}
	return http.NewResponseController(b.ResponseWriter).Hijack()
}

// apply reads the backend's session headers into the session. It reports
// true if it replaced the response itself.
func (b *backendWriter) apply() bool {
	s := b.site
	// A backend must not set the session cookies itself (cookie injection).
	if n := s.dropOwnCookies(b.h); n != "" {
		s.log.Warn("gateway: backend tried to set a session cookie; dropped", "cookie", n)
	}
	u := parseUpdate(b.h, s.headers, s.cfg.MaxHeaderBytes, s.log)
	h := b.ResponseWriter.Header()
	copyHeader(h, b.h)
	b.h = nil
	sess := b.sess
	signedIn := sess != nil && sess.User() != ""
	if sess == nil {
		if !u.changes.Empty() || u.Login != "" || u.Logout || u.Regenerate {
			s.log.Warn("gateway: backend sent session updates where sessions are off; ignored", "path", b.r.URL.Path)
		}
	} else {
		switch {
		case u.Logout:
			s.signOut(b.ResponseWriter, originalRequest(b.r), sess, "/")
			if err := sess.Logout(); err != nil {
				s.log.Error("gateway: backend logout failed", "err", err)
			}
			inspect.SetWhy(b.r, "logout")
		default:
			if sess.IsNew() && len(u.changes.Set) > 0 {
				s.insp.LogEvent(sess, "created")
			}
			if u.Login != "" {
				if err := sess.Login(u.Login); err != nil {
					s.log.Warn("gateway: backend login refused", "err", err)
				} else {
					markAuth(sess, authViaBackend, true)
					s.csrf.Rotate(b.r) // a fresh token secret for the new identity
					s.audit(b.r, session.Event{Type: "login.backend", User: u.Login, Ref: sess.Ref()})
					s.insp.LogEvent(sess, "login")
				}
			} else if u.Regenerate {
				if err := sess.Regenerate(); err != nil {
					s.log.Warn("gateway: backend regenerate failed", "err", err)
				} else {
					s.insp.LogEvent(sess, "regenerate")
				}
			}
			for _, k := range u.changes.Delete {
				sess.Delete(k)
			}
			for k, v := range u.changes.Set {
				sess.Set(k, v)
			}
		}
	}
	if signedIn || (sess != nil && sess.User() != "") {
		s.privateResponse(h, b.r)
	}
	if v := s.rules.HSTSValue(); v != "" && s.isSecure(b.r) {
		h.Set("Strict-Transport-Security", v) // the gateway's, whatever the backend said
	}
	if u.RequireSecure && !s.isSecure(b.r) {
		inspect.SetWhy(b.r, "backend")
		target := s.httpsURL(b.r)
		if target == "" {
			s.pages.error(b.ResponseWriter, http.StatusForbidden, "This page needs HTTPS.")
			return true
		}
		for k := range h {
			delete(h, k)
		}
		h.Set("Cache-Control", "no-store")
		http.Redirect(b.ResponseWriter, b.r, target, redirect.Status(b.r.Method, false))
		return true
	}
	return false
}

// privateResponse keeps a signed-in response out of every cache but the
// browser's own, whatever the backend said, unless the path is listed in
// Cacheable.
func (s *site) privateResponse(h http.Header, r *http.Request) {
	for _, p := range s.cfg.Cacheable {
		if s.cfg.Paths().Match(r.URL.Path, p) {
			return
		}
	}
	h.Set("Cache-Control", "private, no-store")
	for _, k := range []string{"Expires", "Cdn-Cache-Control", "Surrogate-Control"} {
		delete(h, k)
	}
}

// forward hands r to the backend with the session headers set.
func (s *site) forward(w http.ResponseWriter, r *http.Request) {
	sess := session.FromContext(r.Context())
	h := s.headers
	stripForward(r.Header, s.cgi)
	if s.cfg.Inspect {
		var now []string
		if sess != nil {
			if t := sess.Transition(); t != "" {
				now = append(now, t)
			} else if sess.Regenerating() {
				now = append(now, "regenerate") // periodic rotation
			}
			s.insp.LogEvent(sess, now...)
		}
		r.Header.Set(h.Info, s.insp.Info(r, sess, now))
	}
	if sess != nil {
		s.setIdentity(r.Header, r, sess, true)
		if s.cgi {
			r.Header.Set("Session", r.Header.Get(h.Session)) // HTTP_SESSION for CGI scripts
		}
	}
	r = s.keepOriginal(r)
	session.RemoveCookies(r.Header, append(s.cookieNames, s.stripNames...)...)
	s.callBackend(w, r, sess)
}

// setIdentity sets, in dst, the headers that tell a backend about sess:
// its data (if data), user, Ref, transport, and a token for the
// gateway's own forms. Every value comes from the session, none from the
// request's headers. For forwarded requests and forward auth's answer.
func (s *site) setIdentity(dst http.Header, r *http.Request, sess *session.Session, data bool) {
	h := s.headers
	// One backing array for every value set here (up to 8), instead of a
	// slice per header as Header.Set makes.
	vals := make([]string, 0, 8)
	set := func(k, v string) {
		vals = append(vals, v)
		dst[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	if data {
		set(h.Session, sessionHeaderValue(sess))
	}
	if u := sess.User(); u != "" {
		set(h.User, u)
	}
	if ref := sess.Ref(); ref != "" {
		set(h.Ref, ref)
	}
	if sess.User() != "" {
		// The identity a login method vouched for beyond the name.
		if e := sess.Get(login.EmailKey); e != "" {
			set(h.Email, e)
		}
		if g := sess.Get(login.GroupsKey); g != "" {
			set(h.Groups, strings.ReplaceAll(g, "\n", ","))
		}
	}
	secure := "0"
	if sess.Secure() {
		secure = "1"
	}
	set(h.Secure, secure)
	// A token for the gateway's own forms (logout): only signed-in
	// sessions over HTTPS need one, and their secret was made at login,
	// so minting it never costs a write.
	if sess.Secure() && sess.User() != "" && s.csrf != nil {
		if tok := s.csrf.Token(r); tok != "" {
			set(h.CSRF, tok)
			set(h.CSRFField, csrfField)
		}
	}
}

// callBackend runs the backend through a backendWriter, which applies the
// backend's session headers (sess is nil where sessions are off) and keeps
// every protocol header — in 1xx responses, the final one and trailers —
// from the client.
func (s *site) callBackend(w http.ResponseWriter, r *http.Request, sess *session.Session) {
	bw := &backendWriter{ResponseWriter: w, site: s, sess: sess, r: r, h: make(http.Header)}
	s.backend.ServeHTTP(bw, r)
	if !bw.done {
		bw.done = true
		bw.apply()
	}
	stripResponse(s.headers, w.Header()) // trailers are sent after the handler returns
}

// dropOwnCookies removes from h the Set-Cookie lines of the gateway's own
// cookies (session cookies, the login methods' cookies, the Apache cookie
// being migrated): only the gateway sets or clears them. It returns the
// name of a cookie it dropped ("" if none).
func (s *site) dropOwnCookies(h http.Header) string {
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return ""
	}
	var dropped string
	kept := lines[:0:0]
	for _, l := range lines {
		name, _, _ := strings.Cut(l, "=")
		name = strings.TrimSpace(name)
		if s.isSessionCookie(name) || slices.ContainsFunc(s.stripNames, func(n string) bool { return strings.EqualFold(n, name) }) {
			dropped = name
			continue
		}
		kept = append(kept, l)
	}
	if len(kept) == 0 {
		delete(h, "Set-Cookie")
	} else {
		h["Set-Cookie"] = kept
	}
	return dropped
}

func (s *site) isSessionCookie(name string) bool {
	for _, n := range s.cookieNames {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

func (s *site) httpsURL(r *http.Request) string {
	if s.httpsOrigin == "" {
		return ""
	}
	return s.httpsOrigin + r.URL.RequestURI()
}

// copyHeader adds src's values to dst (values already in dst stay).
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = append(dst[k], vv...)
	}
}

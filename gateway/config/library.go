package config

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
)

// What the gateway runs: the library configurations a site's keys become.
// The gateway builds every site from these (and nothing else), and the
// effective-configuration test prints them for each testdata file. Where a
// library owns a knob, its own zero-value rule applies: these methods only
// translate the file's "0 turns it off" into the library's negative value.

// Origin is the site's origin for scheme "https" or "http", from its first
// host and the redirect ports: "https://shop.example:8443". Redirect
// targets are built from it, never from a request's Host header.
func (s *Site) Origin(scheme string) string {
	host, port := "", s.Redirects.HTTPSPort
	if len(s.Hosts) > 0 {
		host = s.Hosts[0]
	}
	if scheme == "http" {
		port = s.Redirects.HTTPPort
	}
	return origin(scheme, host, port)
}

// origin builds "scheme://host[:port]", leaving out the scheme's default port.
func origin(scheme, host string, port int) string {
	if (scheme == "https" && port == 443) || (scheme == "http" && port == 80) || port == 0 {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + strconv.Itoa(port)
}

// TrustedOrigins pass the site's cross-origin checks: the plain-HTTP
// origin of each of its hosts (a form on HTTP posting to HTTPS).
func (s *Site) TrustedOrigins() []string {
	var out []string
	for _, h := range s.Hosts {
		out = append(out, origin("http", h, s.Redirects.HTTPPort))
	}
	return out
}

// SessionConfig is the site's session.Config, without what the gateway
// adds at run time (Store or Codec, Auditor, Logger, TrustedProxies,
// Locator, the shared unknown-ID limiter, HTTPSURL). ok is false when the
// site's sessions are off.
func (s *Site) SessionConfig() (c session.Config, ok bool) {
	ss := s.Session
	if ss.Mode == ModeOff {
		return c, false
	}
	c = session.Config{
		Cookie: session.CookieConfig{Name: ss.Cookie.Name, SecureName: ss.Cookie.SecureName, Domain: ss.Cookie.Domain,
			Path: ss.Cookie.Path, SameSite: ss.Cookie.SameSite.HTTP(), Persist: ss.Cookie.Persist},
		IdleTimeout: off(ss.IdleTimeout), AbsoluteTimeout: off(ss.AbsoluteTimeout), MaxAge: ss.MaxAge,
		RotateEvery: off(ss.RotateEvery), RotateRequests: ss.RotateRequests, Grace: ss.Grace,
		TheftAction: ss.TheftAction, StaySecure: ss.StaySecure, AllowHTTPAuth: ss.AllowHTTPAuth, Lock: ss.Lock,
		Realm: s.EffectiveRealm(),
	}
	if ss.Mode == ModeMixed {
		c.Mode = session.Mixed
	}
	switch ss.Bind.IP {
	case BindIPExact:
		c.Binding.IP = ss.Bind.Action
	case BindIPSubnet:
		c.Binding.IP, c.Binding.IPv4Prefix, c.Binding.IPv6Prefix = ss.Bind.Action, 24, 64
	}
	if ss.Bind.UserAgent {
		c.Binding.UserAgent = ss.Bind.Action
	}
	return c, true
}

// off maps the file's "0: none" onto session.Config, where 0 takes the
// library's default and a negative value turns the timer off.
func off(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// SecureConfig is the site's secure.Config (HTTP/HTTPS redirects), without
// IsSecure, which the gateway sets. With a users file the login and logout
// paths come first: always on HTTPS, and credentials posted over plain
// HTTP are refused rather than redirected.
func (s *Site) SecureConfig() secure.Config {
	var rules []secure.Rule
	if s.Auth.Htpasswd != "" {
		rules = append(rules,
			secure.Rule{Path: s.Auth.LoginPath, To: secure.HTTPS, Credentials: true},
			secure.Rule{Path: s.Auth.LogoutPath, To: secure.HTTPS, Credentials: true})
	}
	for _, r := range s.Redirects.Rules {
		rules = append(rules, secure.Rule{Path: r.Path, Glob: r.Glob, Form: r.Form, State: r.State, To: r.To})
	}
	overall := s.Redirects.Overall
	if s.Session.Mode == ModeHTTPSOnly && overall == secure.ByRules && len(rules) == 0 {
		overall = secure.Always // nothing would ever send plain HTTP to HTTPS
	}
	return secure.Config{Overall: overall, Rules: rules, Paths: s.Paths(),
		HTTPSOrigin: s.Origin("https"), HTTPOrigin: s.Origin("http"),
		Permanent: s.Redirects.Status == http.StatusMovedPermanently,
		HSTS:      secure.HSTS{MaxAge: s.Redirects.HSTS.MaxAge, IncludeSubdomains: s.Redirects.HSTS.IncludeSubdomains},
	}
}

// Paths is how the site's path rules match (ExactCasePaths): the
// gateway's include, exclude, auth_required and cacheable, its redirect
// rules, and this package's checks of them.
func (s *Site) Paths() secure.PathMatcher {
	return secure.PathMatcher{ExactCase: s.ExactCasePaths}
}

// PerMinute is the rate as the library's "per minute" limit: negative
// (off) for attempts 0, at least 1 otherwise.
func (r Rate) PerMinute() int {
	if r.Attempts <= 0 || r.Per <= 0 {
		return -1
	}
	return max(1, int(int64(r.Attempts)*int64(time.Minute)/int64(r.Per)))
}

// checkLibraries runs the library constructors on a site, so that the
// rules only a library knows (the cookie prefix rules, Grace at most an
// hour, lifetimes under 100 years, ...) are reported with the site's file,
// line and key instead of stopping serve. reported are the errors this
// package found in the site: a key already reported is not reported twice,
// and the redirect rules, which this package checks in full, only go
// through secure.New when the site is otherwise sound.
func checkLibraries(s *Site, sp string, p *problems, reported []*FieldError) {
	if c, ok := s.SessionConfig(); ok {
		if _, err := runSession(c); err != nil {
			for _, e := range leaves(err) {
				key, msg := "session", e.Error()
				if ce, ok := errors.AsType[*session.ConfigError](e); ok {
					key, msg = sessionKey(ce.Field), ce.Reason
				}
				if path := join(sp, key); !reportedAt(path, sp, reported) {
					p.errf(path, "%s", msg)
				}
			}
		}
	}
	if len(reported) > 0 {
		return
	}
	if _, err := secure.New(s.SecureConfig()); err != nil {
		for _, e := range leaves(err) {
			p.errf(join(sp, "redirects"), "%v", e)
		}
	}
}

// reportedAt reports whether one of errs is at path, above it (short of
// the site sp itself) or below it.
func reportedAt(path, sp string, errs []*FieldError) bool {
	for _, e := range errs {
		if e.Path == path || within(e.Path, path) || (e.Path != sp && within(path, e.Path)) {
			return true
		}
	}
	return false
}

// runSession is what session.New makes of c: the effective configuration
// (the library's defaults applied) or its errors.
func runSession(c session.Config) (session.Config, error) {
	c.Store, c.Codec = checkStore{}, nil // never called: Effective only checks the configuration
	c.HTTPSURL = func(*http.Request) string { return "" }
	return c.Effective()
}

// checkStore stands in for the store while the session configuration is
// checked.
type checkStore struct{ session.Store }

// sessionKey is the site key of a session.Config field.
func sessionKey(field string) string {
	if field == "Realm" {
		return "realm"
	}
	keys := map[string]string{"Mode": "mode", "IdleTimeout": "idle_timeout", "AbsoluteTimeout": "absolute_timeout",
		"MaxAge": "max_age", "RotateEvery": "rotate_every", "RotateRequests": "rotate_requests", "Grace": "grace",
		"TheftAction": "theft_action", "Cookie.Name": "cookie.name", "Cookie.SecureName": "cookie.secure_name",
		"Cookie.Path": "cookie.path", "Cookie.SameSite": "cookie.same_site", "Cookie.Persist": "cookie.persist",
		"Cookie.Domain": "cookie.domain"}
	if k, ok := keys[field]; ok {
		return "session." + k
	}
	if strings.HasPrefix(field, "Binding.") {
		return "session.bind"
	}
	return "session"
}

// leaves takes errors.Join apart.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

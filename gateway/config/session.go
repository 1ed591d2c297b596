package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sessiond/sessiond/remember"
)

// validateSession checks a site's session block: mode, cookie (prefix
// rules), timeouts and rotation.
func validateSession(c *Config, s *Site, sp string, p *problems) {
	ss := s.Session
	pp := join(sp, "session")
	if !checkEnum(p, join(pp, "mode"), ss.Mode, ModeHTTPSOnly, ModeMixed, ModeOff) {
		return // everything else depends on the mode
	}
	checkEnum(p, join(pp, "bind.ip"), ss.Bind.IP, BindIPOff, BindIPExact, BindIPSubnet)
	for i, v := range ss.Include {
		checkPrefix(p, fmt.Sprintf("%s.include[%d]", pp, i), v)
	}
	for i, v := range ss.Exclude {
		checkPrefix(p, fmt.Sprintf("%s.exclude[%d]", pp, i), v)
	}
	if ss.Mode == ModeOff {
		return
	}
	switch {
	case c.Listen.HTTPS.Enabled():
	case len(c.TrustedProxies) == 0:
		p.errf(join(pp, "mode"), "%s sessions need HTTPS: configure listen.https (acme, cert_file and key_file, or dev_tls: true), or trusted_proxies behind a TLS-terminating proxy", ss.Mode)
	default:
		// Behind a TLS terminator: HTTPS is what a trusted proxy says it
		// was (X-Forwarded-Proto: https); every other request is plain.
		p.warnf(join(pp, "mode"), "no listen.https: only requests from trusted_proxies with X-Forwarded-Proto: https are HTTPS; %s", behindTerminator(ss.Mode))
	}
	if ss.Mode == ModeMixed && c.Store.Cookie != nil {
		p.errf(join(pp, "mode"), "mixed mode needs a server-side store (a cookie session cannot hold two IDs); use sqlite, postgres, redis or memory")
	}
	if ss.Lock && c.Store.Cookie != nil {
		p.errf(join(pp, "lock"), "the cookie store keeps the session in the browser: there is no record to lock; use sqlite, postgres, redis or memory")
	}
	if ss.Mode == ModeMixed && c.Listen.HTTP.Addr == "" {
		p.warnf(join(pp, "mode"), "mixed mode without an HTTP listener behaves like https-only")
	}
	validateCookie(ss, pp, p)

	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"idle_timeout", ss.IdleTimeout}, {"absolute_timeout", ss.AbsoluteTimeout}, {"max_age", ss.MaxAge},
		{"rotate_every", ss.RotateEvery}, {"grace", ss.Grace}, {"cookie.persist", ss.Cookie.Persist}} {
		if d.v < 0 {
			p.errf(join(pp, d.key), "must not be negative")
		}
	}
	if ss.RotateRequests < 0 {
		p.errf(join(pp, "rotate_requests"), "must not be negative")
	}
	if ss.IdleTimeout == 0 && ss.AbsoluteTimeout == 0 && ss.MaxAge == 0 {
		p.warnf(pp, "sessions never expire: idle_timeout, absolute_timeout and max_age are all 0")
	}
	if ss.AbsoluteTimeout > 0 && ss.IdleTimeout > ss.AbsoluteTimeout {
		p.warnf(join(pp, "idle_timeout"), "is longer than absolute_timeout (%v), so it never applies", ss.AbsoluteTimeout)
	}
	if ss.RotateEvery > 0 && ss.Grace >= ss.RotateEvery {
		p.errf(join(pp, "grace"), "%v must be shorter than rotate_every (%v)", ss.Grace, ss.RotateEvery)
	}
	if ss.RotateEvery == 0 && ss.RotateRequests == 0 {
		p.warnf(join(pp, "rotate_every"), "periodic ID regeneration is off (rotate_every and rotate_requests are 0)")
	}
	if ss.AllowHTTPAuth && ss.Mode != ModeMixed {
		p.warnf(join(pp, "allow_http_auth"), "only applies to mixed mode")
	}
	if ss.StaySecure && ss.Mode != ModeMixed {
		p.warnf(join(pp, "stay_secure"), "only applies to mixed mode")
	}
	if ss.AllowHTTPAuth && ss.Mode == ModeMixed {
		p.warnf(join(pp, "allow_http_auth"), "logged-in sessions travel over plain HTTP; anyone on the path can take them over")
	}
}

// behindTerminator says what a site of mode m without listen.https gives
// the clients that do not come through a trusted TLS terminator.
func behindTerminator(m Mode) string {
	if m == ModeMixed {
		return "the secure partition and signing in are reachable only through them"
	}
	return "sessions are reachable only through them, every other request is redirected to https://"
}

// validateCookie checks what the file writes about the cookie; the
// browsers' rules on names and prefixes (__Host- needs Path "/" and no
// Domain, mixed mode's HTTP cookie can have neither prefix nor
// SameSite=None) are session.New's, reported by checkLibraries.
func validateCookie(ss Session, pp string, p *problems) {
	ck := ss.Cookie
	cp := join(pp, "cookie")
	checkEnum(p, join(cp, "same_site"), ck.SameSite, SameSiteLax, SameSiteStrict, SameSiteNone)
	if ck.Domain != "" {
		if err := checkHost(ck.Domain); err != "" {
			p.errf(join(cp, "domain"), "%s %s", quote(ck.Domain), err)
		}
	}
	if !strings.HasPrefix(ck.Path, "/") || strings.ContainsAny(ck.Path, ";\x00\r\n ") {
		p.errf(join(cp, "path"), "%s must start with \"/\" and hold no ';', spaces or control characters", quote(ck.Path))
	}
	if ss.Mode != ModeMixed && ck.SecureName != "" && ck.SecureName != ck.Name {
		p.warnf(join(cp, "secure_name"), "only used in mixed mode; ignored")
	}
}

// validateAuth checks login settings; login needs sessions on its paths.
func validateAuth(s *Site, sp string, p *problems) {
	a := s.Auth
	ap := join(sp, "auth")
	sound := make([]bool, len(s.AuthRequired))
	for i, v := range s.AuthRequired {
		sound[i] = checkPrefix(p, fmt.Sprintf("%s.auth_required[%d]", sp, i), v)
	}
	for i, v := range s.Cacheable {
		checkPrefix(p, fmt.Sprintf("%s.cacheable[%d]", sp, i), v)
	}
	if s.Session.Mode == ModeOff {
		if len(s.AuthRequired) > 0 {
			p.errf(join(sp, "auth_required"), "login needs sessions; session.mode is off")
		}
		if a.Htpasswd != "" {
			p.errf(join(ap, "htpasswd"), "login needs sessions; session.mode is off")
		}
		return
	}
	for i, v := range s.AuthRequired {
		if sound[i] {
			checkAuthInSession(s, fmt.Sprintf("%s.auth_required[%d]", sp, i), v, p)
		}
	}
	checkPrefix(p, join(ap, "login_path"), a.LoginPath)
	checkPrefix(p, join(ap, "logout_path"), a.LogoutPath)
	if a.LoginPath == a.LogoutPath {
		p.errf(join(ap, "logout_path"), "must differ from login_path")
	}
	for _, lp := range []struct{ key, v string }{{"login_path", a.LoginPath}, {"logout_path", a.LogoutPath}} {
		// Only a login the gateway serves needs its paths in the session.
		if (a.Htpasswd != "" || a.OIDC != nil) && !s.InSession(lp.v) {
			p.errf(join(ap, lp.key), "%s is outside the session's include/exclude paths, so login could not work", quote(lp.v))
		}
	}
	checkRate(p, join(ap, "rate_limit.per_ip"), a.RateLimit.PerIP)
	checkRate(p, join(ap, "rate_limit.per_user"), a.RateLimit.PerUser)
	checkRate(p, join(ap, "rate_limit.per_device"), a.RateLimit.PerDevice)
	switch rm := a.Remember; {
	case rm.Lifetime < 0 || (rm.Lifetime > 0 && rm.Lifetime < time.Second):
		p.errf(join(ap, "remember.lifetime"), "must be at least 1s (or 0 for the default, 720h)")
	case rm.ReuseGrace < 0 || rm.ReuseGrace >= cmp.Or(rm.Lifetime, remember.DefaultMaxAge):
		p.errf(join(ap, "remember.reuse_grace"), "must be between 0 and the key lifetime")
	case rm.Enabled && a.Htpasswd == "":
		p.errf(join(ap, "remember.enabled"), "remember-me is offered on the gateway's login form: set auth.htpasswd")
	}
	switch {
	case a.ReauthAfter < 0:
		p.errf(join(ap, "reauth_after"), "must not be negative")
	case a.ReauthAfter == 0 && a.Htpasswd != "":
		p.warnf(join(ap, "reauth_after"), "0 never asks for the password again: a copied session cookie can sign its owner out everywhere")
	}
}

// InSession reports whether the site keeps sessions on urlPath: under
// one of session.include (every path when there is none) and under none
// of session.exclude, matched as the site matches paths. The gateway and
// this package's checks both ask it.
func (s *Site) InSession(urlPath string) bool {
	m, ss := s.Paths(), s.Session
	for _, pre := range ss.Exclude {
		if m.Match(urlPath, pre) {
			return false
		}
	}
	return len(ss.Include) == 0 || slices.ContainsFunc(ss.Include, func(pre string) bool { return m.Match(urlPath, pre) })
}

// checkAuthInSession requires every path an auth_required prefix covers
// to have sessions: none may be excluded, and one include must
// cover all of them; a path without sessions is forwarded as it is, so a
// login could not be required there.
func checkAuthInSession(s *Site, key, v string, p *problems) {
	m, ss := s.Paths(), s.Session
	for i, e := range ss.Exclude {
		if m.Overlaps(v, e) {
			p.errf(key, "%s overlaps session.exclude[%d] %s, where sessions are off, so login cannot be required there", quote(v), i, quote(e))
		}
	}
	if len(ss.Include) > 0 && !slices.ContainsFunc(ss.Include, func(in string) bool { return m.Covers(in, v) }) {
		p.errf(key, "%s is not under any session.include path, so sessions are off there and login cannot be required", quote(v))
	}
	if strings.HasSuffix(v, "/") && v != "/" {
		p.warnf(key, "%s does not cover %s itself (many backends serve both alike): write %s", quote(v), quote(strings.TrimSuffix(v, "/")), quote(strings.TrimSuffix(v, "/")))
	}
}

package config

import (
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/sessiond/sessiond/secure"
)

// provisionSite fills a site's defaults that depend on other keys: cookie
// names from mode, domain and path; redirect policy from mode; redirect ports
// from the listeners; the name from the first host.
func provisionSite(c *Config, s *Site, r *resolver, p string) {
	for i, h := range s.Hosts {
		s.Hosts[i] = strings.TrimSuffix(strings.ToLower(h), ".")
	}
	if s.Name == "" && len(s.Hosts) > 0 {
		s.Name = s.Hosts[0]
	}
	ss := &s.Session
	ck := &ss.Cookie
	ck.Domain = strings.TrimPrefix(strings.ToLower(ck.Domain), ".")
	// Cookie names the file leaves out are package session's defaults.
	if sc, ok := s.SessionConfig(); ok {
		if eff, err := runSession(sc); err == nil {
			ck.Name, ck.SecureName = eff.Cookie.Name, eff.Cookie.SecureName
		}
	}

	rd := &s.Redirects
	// Zero means "default" for configs built in code; written in a file,
	// it is a value like any other (and validate refuses it).
	unset := func(key string) bool { return !r.p.src.present(join(p, "redirects."+key)) }
	// The policy follows the mode unless the file names one (in code:
	// unless rules are given, secure's zero value being "by rules").
	if unset("overall") && rd.Overall == secure.ByRules && (r.p.src != nil || len(rd.Rules) == 0) {
		switch ss.Mode {
		case ModeOff:
			rd.Overall = secure.Never
		case ModeHTTPSOnly:
			rd.Overall = secure.Always
		}
	}
	if rd.HTTPSPort == 0 && unset("https_port") {
		rd.HTTPSPort = port(c.Listen.HTTPS.Addr, 443)
	}
	if rd.HTTPPort == 0 && unset("http_port") {
		rd.HTTPPort = port(c.Listen.HTTP.Addr, 80)
	}
	// HTTPS-only sites pin HTTPS in browsers unless told otherwise; never
	// with a development certificate (it would pin localhost).
	if rd.HSTS.MaxAge == 0 && unset("hsts.max_age") && ss.Mode == ModeHTTPSOnly && !c.Listen.HTTPS.DevTLS {
		rd.HSTS.MaxAge = DefaultHSTSMaxAge
	}
	for _, d := range []*DirRoute{s.CGI, s.Static} {
		if d != nil {
			d.Dir = r.abs(d.Dir)
		}
	}
	a := &s.Auth
	a.Htpasswd = r.abs(a.Htpasswd)
	provisionOIDC(a.OIDC, r)
	if m := s.ModCrypto; m != nil {
		m.PassphraseFile = r.abs(m.PassphraseFile)
	}
}

// validateSites checks each site and what must be unique across them.
func validateSites(c *Config, p *problems) {
	if len(c.Sites) == 0 {
		p.errf("sites", "at least one site is required")
		return
	}
	hosts := map[string]string{}
	names := map[string]string{}
	for i := range c.Sites {
		sp := fmt.Sprintf("sites[%d]", i)
		s := &c.Sites[i]
		n := len(p.errs)
		validateSite(c, s, sp, p)
		checkLibraries(s, sp, p, slices.Clone(p.errs[n:]))
		for j, h := range s.Hosts {
			hp := fmt.Sprintf("%s.hosts[%d]", sp, j)
			if other, dup := hosts[h]; dup {
				p.errf(hp, "host %s is already %s", h, other)
				continue
			}
			hosts[h] = hp
		}
		if other, dup := names[s.Name]; dup && s.Name != "" {
			p.errf(join(sp, "name"), "site name %s is already used by %s", quote(s.Name), other)
		}
		names[s.Name] = sp
	}
	validateRealms(c, p)
}

func validateSite(c *Config, s *Site, sp string, p *problems) {
	if len(s.Hosts) == 0 {
		p.errf(join(sp, "hosts"), "at least one host name is required")
	}
	for j, h := range s.Hosts {
		if err := checkHost(h); err != "" {
			p.errf(fmt.Sprintf("%s.hosts[%d]", sp, j), "%s %s", quote(h), err)
		}
	}

	var backends []string
	if s.Handler != nil {
		backends = append(backends, "handler")
	}
	if s.Upstream != "" {
		backends = append(backends, "upstream")
		checkUpstream(p, join(sp, "upstream"), s.Upstream)
	}
	for _, d := range []struct {
		key string
		r   *DirRoute
	}{{"cgi", s.CGI}, {"static", s.Static}} {
		if d.r == nil {
			continue
		}
		backends = append(backends, d.key)
		if d.r.Dir == "" {
			p.errf(join(sp, d.key+".dir"), "is required")
		}
		checkPrefix(p, join(sp, d.key+".prefix"), d.r.Prefix)
	}
	if s.ForwardAuth != nil {
		backends = append(backends, "forward_auth")
		validateForwardAuth(c, s, sp, p)
	}
	switch len(backends) {
	case 0:
		p.errf(sp, "needs a backend: upstream, cgi, static or forward_auth")
	case 1:
	default:
		p.errf(join(sp, backends[1]), "choose one backend; found %s", andList(backends))
	}

	validateSession(c, s, sp, p)
	validateAuth(s, sp, p)
	validateOIDC(s, sp, p)
	validateRedirects(c, s, sp, p)
	validateHeaders(s, sp, p)
	checkPositive(p, join(sp, "timeouts.request_body"), s.Timeouts.RequestBody)
	if r := s.Timeouts.RequestBodyMinRate; r < 0 || r > MaxRequestBodyMinRate {
		p.errf(join(sp, "timeouts.request_body_min_rate"), "%d bytes a second is not between 0 and %d", r, MaxRequestBodyMinRate)
	}
	checkPositive(p, join(sp, "timeouts.upstream_header"), s.Timeouts.UpstreamHeader)

	if s.MaxHeaderBytes < 256 || s.MaxHeaderBytes > 1<<20 {
		p.errf(join(sp, "max_header_bytes"), "%d is not between 256 and 1048576", s.MaxHeaderBytes)
	}
	if !s.CSRF.EnforceOrigin && s.Session.Mode != ModeOff {
		p.warnf(join(sp, "csrf.enforce_origin"), "cross-origin requests are not checked; forms need their own CSRF tokens")
	}
	if m := s.ModCrypto; m != nil {
		mp := join(sp, "modcrypto")
		if s.Session.Mode == ModeOff {
			p.errf(mp, "importing Apache sessions needs sessions; session.mode is off")
		}
		if m.PassphraseFile == "" {
			p.errf(join(mp, "passphrase_file"), "is required")
		}
		if err := checkCookieName(m.CookieName); err != "" {
			p.errf(join(mp, "cookie_name"), "%s", err)
		} else if m.CookieName == s.Session.Cookie.Name || m.CookieName == s.Session.Cookie.SecureName {
			p.errf(join(mp, "cookie_name"), "%s is also the session cookie's name", quote(m.CookieName))
		}
		checkEnum(p, join(mp, "cipher"), m.Cipher, "aes256", "aes192", "aes128")
		if strings.ContainsAny(m.AuthName, "\x00\r\n\t") {
			p.errf(join(mp, "auth_name"), "%s: control characters cannot be in an AuthName", quote(m.AuthName))
		}
		if s.Auth.Htpasswd == "" {
			p.warnf(mp, "without auth.htpasswd no Apache user is signed in (only users in the gateway's users file are)")
		}
	}
}

func validateRedirects(c *Config, s *Site, sp string, p *problems) {
	rd := &s.Redirects
	rp := join(sp, "redirects")
	if rd.Status != http.StatusFound && rd.Status != http.StatusMovedPermanently {
		p.errf(join(rp, "status"), "%d is not 302 or 301", rd.Status)
	}
	for _, pt := range []struct {
		key string
		v   int
	}{{"https_port", rd.HTTPSPort}, {"http_port", rd.HTTPPort}} {
		if pt.v < 1 || pt.v > 65535 {
			p.errf(join(rp, pt.key), "%d is not between 1 and 65535", pt.v)
		}
	}
	if rd.Overall != secure.Never && !c.Listen.HTTPS.Enabled() && len(c.TrustedProxies) == 0 && s.Session.Mode == ModeOff {
		p.errf(join(rp, "overall"), "%s redirects to HTTPS, but there is no HTTPS listener (nor trusted_proxies terminating TLS)", rd.Overall)
	}
	if rd.Overall != secure.Never && !c.Listen.HTTPS.Enabled() && len(c.TrustedProxies) > 0 && s.Session.Mode == ModeOff {
		p.warnf(join(rp, "overall"), "%s redirects to HTTPS, which only trusted_proxies serve (no listen.https)", rd.Overall)
	}
	if rd.Overall == secure.Never && s.Session.Mode == ModeHTTPSOnly && c.Listen.HTTP.Addr != "" {
		p.warnf(join(rp, "overall"), "never: plain-HTTP visitors of an https-only site are not sent to HTTPS and get no session")
	}
	if len(rd.Rules) > 0 && rd.Overall != secure.ByRules {
		p.warnf(join(rp, "rules"), "ignored unless overall is rules")
	}
	for i := range rd.Rules {
		validateRule(s, &rd.Rules[i], fmt.Sprintf("%s.rules[%d]", rp, i), p)
	}
	hp := join(rp, "hsts")
	if rd.HSTS.MaxAge > 0 && s.Session.Mode == ModeMixed {
		p.errf(join(hp, "max_age"), "HSTS makes browsers refuse plain HTTP, which mixed mode needs; use it with https-only")
	}
	if rd.HSTS.IncludeSubdomains && rd.HSTS.MaxAge == 0 {
		p.warnf(join(hp, "include_subdomains"), "has no effect while max_age is 0")
	}
}

func validateRule(s *Site, r *RedirectRule, rp string, p *problems) {
	if r.Path == "" && r.Glob == "" && r.State == secure.AnyState && r.Form == "" {
		p.errf(rp, "a rule needs at least one condition: path, glob, state or form")
	}
	if r.Path != "" && r.Glob != "" {
		p.errf(join(rp, "glob"), "use path or glob, not both")
	}
	if r.Path != "" {
		checkPrefix(p, join(rp, "path"), r.Path)
	}
	if r.Glob != "" {
		if _, err := path.Match(r.Glob, "/"); err != nil || !strings.HasPrefix(r.Glob, "/") {
			p.errf(join(rp, "glob"), "%s is not a pattern starting with \"/\" (path.Match syntax)", quote(r.Glob))
		}
	}
	if r.Form != "" {
		sel, err := secure.ParseSelector(r.Form)
		if err != nil {
			p.errf(join(rp, "form"), "%s: %v", quote(r.Form), err)
		}
		r.Selector = sel
	}
	switch {
	case r.To == secure.HTTP && s.Session.Mode == ModeHTTPSOnly:
		p.errf(join(rp, "to"), "an https-only site cannot send visitors to plain HTTP")
	case r.Form != "" && r.To != secure.HTTPS:
		p.errf(join(rp, "to"), "a form rule can only send to https (it replaces a page served over plain HTTP)")
	}
}

// resolveSite checks the files and directories a site names.
func resolveSite(s *Site, sp string, r *resolver) {
	if s.CGI != nil && s.CGI.Dir != "" {
		r.needDir(join(sp, "cgi.dir"), s.CGI.Dir)
	}
	if s.Static != nil && s.Static.Dir != "" {
		r.needDir(join(sp, "static.dir"), s.Static.Dir)
	}
	if s.Auth.Htpasswd != "" && s.Session.Mode != ModeOff {
		r.needFile(join(sp, "auth.htpasswd"), s.Auth.Htpasswd)
	}
	resolveOIDC(s, sp, r)
	if m := s.ModCrypto; m != nil && m.PassphraseFile != "" {
		r.needFile(join(sp, "modcrypto.passphrase_file"), m.PassphraseFile)
		r.checkPrivate(join(sp, "modcrypto.passphrase_file"), m.PassphraseFile)
	}
}

// ForwardAuthPath is where a forward-auth site (Site.ForwardAuth)
// answers a proxy's auth requests.
const ForwardAuthPath = "/.sessiond/auth"

// validateForwardAuth: a forward-auth site answers from its sessions and
// signs users in on the gateway's own form, since there is no backend to
// do it.
func validateForwardAuth(c *Config, s *Site, sp string, p *problems) {
	fp := join(sp, "forward_auth")
	if len(c.TrustedProxies) == 0 {
		p.warnf(fp, "no trusted_proxies: the proxy's X-Forwarded-* and X-Original-URI headers are ignored (a signed-out request gets 401, never the login redirect; only listen.https is HTTPS); set trusted_proxies to the proxy's address")
	}
	switch {
	case s.Session.Mode == ModeOff:
		p.errf(fp, "forward auth answers from sessions; session.mode is off")
	case s.Auth.Htpasswd == "" && s.Auth.OIDC == nil:
		p.errf(fp, "forward auth signs users in on the gateway's login page: set auth.htpasswd or auth.oidc")
	case !s.InSession(ForwardAuthPath):
		p.errf(fp, "%s is outside the session's include/exclude paths, so no request could be authorized", quote(ForwardAuthPath))
	}
}

package config

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OIDC signs users in at an OpenID provider: the authorization code flow
// with PKCE (S256), state and nonce, the callback at OIDCCallbackPath
// (register https://HOST/.sessiond/oidc/callback with the provider), the
// return from the provider's logout at OIDCSignedOutPath, and the
// provider's Back-Channel Logout at OIDCBackchannelPath.
type OIDC struct {
	// Issuer is the provider's issuer URL (https; http only on loopback,
	// for tests). Its discovery document is fetched at the first sign-in,
	// so a provider that is down does not stop the gateway.
	Issuer string `yaml:"issuer"`
	// Name labels the button "Sign in with NAME". Default: the issuer's
	// host.
	Name     string `yaml:"name"`
	ClientID string `yaml:"client_id"`
	// ClientSecret: after Load, from ClientSecretFile, the environment
	// variable ClientSecretEnv, or written inline (which warns). None of
	// the three makes a public client, protected by PKCE alone.
	ClientSecret     Secret `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	ClientSecretEnv  string `yaml:"client_secret_env"`
	// Scopes asked for; must include openid. Default [openid, email,
	// profile].
	Scopes []string `yaml:"scopes"`
	// UserClaim is the ID token claim that becomes the session's user
	// (X-Session-User): sub (default), email, preferred_username, ...
	UserClaim string `yaml:"user_claim"`
	// GroupsClaim is the claim listing the user's groups (X-Session-Groups);
	// "" reads none.
	GroupsClaim string `yaml:"groups_claim"`
	// AllowedEmails, AllowedDomains (of the email) and AllowedGroups
	// admit only those users; a user must pass every list that is set
	// (an email claim must be verified to count). Empty lists admit
	// anyone the provider signs in.
	AllowedEmails  []string `yaml:"allowed_emails"`
	AllowedDomains []string `yaml:"allowed_domains"`
	AllowedGroups  []string `yaml:"allowed_groups"`
	// CARoot is a PEM file of the CA that signed the provider's
	// certificate (a private CA, tests); "" uses the system's roots.
	CARoot string `yaml:"ca_root"`
	// CAPool holds CARoot's certificates, filled by Load; nil: the
	// system's roots.
	CAPool *x509.CertPool `yaml:"-"`
	// RefreshEvery re-checks a signed-in user with the provider (a
	// refresh-token grant, when the provider issued a refresh token) at
	// most this often; a refused refresh signs the user out. Default 5m.
	RefreshEvery time.Duration `yaml:"refresh_every"`
	// DownGrace: while the provider cannot be reached, a signed-in session
	// keeps working this long past its last successful check, then is
	// signed out. Default 15m; 0 signs out at the first failed check.
	DownGrace time.Duration `yaml:"down_grace"`
}

// OIDC's paths under every site that signs users in with a provider.
const (
	OIDCLoginPath       = "/.sessiond/oidc/login"
	OIDCCallbackPath    = "/.sessiond/oidc/callback"
	OIDCBackchannelPath = "/.sessiond/oidc/backchannel"
	// OIDCSignedOutPath is where the provider's end-session endpoint sends
	// the browser back (register https://HOST/.sessiond/oidc/signed-out as
	// a post-logout redirect URI); it goes on to the page the logout chose.
	OIDCSignedOutPath = "/.sessiond/oidc/signed-out"
)

// Defaults of the oidc block.
const (
	DefaultOIDCRefreshEvery = 5 * time.Minute
	DefaultOIDCDownGrace    = 15 * time.Minute
)

// DefaultOIDC returns an oidc block with every default set.
func DefaultOIDC() OIDC {
	return OIDC{
		Scopes:       []string{"openid", "email", "profile"},
		UserClaim:    "sub",
		RefreshEvery: DefaultOIDCRefreshEvery,
		DownGrace:    DefaultOIDCDownGrace,
	}
}

// provisionOIDC fills the defaults that depend on other keys (the button's
// name from the issuer) and makes the CA path absolute.
func provisionOIDC(o *OIDC, r *resolver) {
	if o == nil {
		return
	}
	o.CARoot = r.abs(o.CARoot)
	o.ClientSecretFile = r.abs(o.ClientSecretFile)
	if o.Name == "" {
		if u, err := url.Parse(o.Issuer); err == nil {
			o.Name = u.Hostname()
		}
	}
	for i, d := range o.AllowedDomains {
		o.AllowedDomains[i] = strings.TrimPrefix(strings.ToLower(d), "@")
	}
	for i, e := range o.AllowedEmails {
		o.AllowedEmails[i] = strings.ToLower(e)
	}
}

// validateOIDC checks an oidc block that needs no file.
func validateOIDC(s *Site, sp string, p *problems) {
	o := s.Auth.OIDC
	if o == nil {
		return
	}
	op := join(sp, "auth.oidc")
	if s.Session.Mode == ModeOff {
		p.errf(op, "login needs sessions; session.mode is off")
		return
	}
	checkIssuer(p, join(op, "issuer"), o.Issuer)
	if o.ClientID == "" {
		p.errf(join(op, "client_id"), "is required (the client ID the provider gave this site)")
	}
	if !slices.Contains(o.Scopes, "openid") {
		p.errf(join(op, "scopes"), "must include openid")
	}
	if o.UserClaim == "" {
		p.errf(join(op, "user_claim"), "is empty (sub, email, preferred_username, ...)")
	}
	for i, e := range o.AllowedEmails {
		if at := strings.LastIndexByte(e, '@'); at <= 0 || at == len(e)-1 {
			p.errf(fmt.Sprintf("%s.allowed_emails[%d]", op, i), "%s is not an email address", quote(e))
		}
	}
	for i, d := range o.AllowedDomains {
		if d == "" || strings.ContainsAny(d, "@/ ") {
			p.errf(fmt.Sprintf("%s.allowed_domains[%d]", op, i), "%s is not a domain name", quote(d))
		}
	}
	if (len(o.AllowedEmails) > 0 || len(o.AllowedDomains) > 0) && !slices.Contains(o.Scopes, "email") {
		p.warnf(join(op, "scopes"), "allowed_emails and allowed_domains need the email claim; without the email scope most providers send none, and every user is refused")
	}
	if len(o.AllowedGroups) > 0 && o.GroupsClaim == "" {
		p.errf(join(op, "allowed_groups"), "needs groups_claim (the claim that lists a user's groups)")
	}
	checkPositive(p, join(op, "refresh_every"), o.RefreshEvery)
	if o.DownGrace < 0 {
		p.errf(join(op, "down_grace"), "must not be negative")
	}
	for _, path := range []string{OIDCLoginPath, OIDCCallbackPath} {
		if !s.InSession(path) {
			p.errf(op, "%s is outside the session's include/exclude paths, so sign-in could not work", quote(path))
		}
	}
}

// checkIssuer requires an https URL (http on loopback) without query or
// fragment: the issuer is compared byte for byte with the tokens' iss.
func checkIssuer(p *problems, path, issuer string) {
	if issuer == "" {
		p.errf(path, "is required (the provider's issuer URL)")
		return
	}
	u, err := url.Parse(issuer)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		p.errf(path, "%s is not an https:// URL", quote(issuer))
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		p.errf(path, "%s: an issuer has no query, fragment or user", quote(issuer))
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		p.errf(path, "%s: tokens and codes would travel in the clear; use https (http only on loopback, for tests)", quote(issuer))
	}
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// resolveOIDC reads the client secret and checks the CA file.
func resolveOIDC(s *Site, sp string, r *resolver) {
	o := s.Auth.OIDC
	if o == nil || s.Session.Mode == ModeOff {
		return
	}
	op := join(sp, "auth.oidc")
	if o.ClientSecret.IsSet() || o.ClientSecretFile != "" || o.ClientSecretEnv != "" {
		r.resolveSecret(secretSpec{
			path: op, inlineKey: "client_secret", fileKey: "client_secret_file", envKey: "client_secret_env",
			inline: &o.ClientSecret, file: o.ClientSecretFile, env: o.ClientSecretEnv, what: "the OIDC client secret",
		})
	}
	if o.CARoot != "" && o.CAPool == nil {
		data, err := r.fs.ReadFile(o.CARoot)
		if err != nil {
			r.p.errf(join(op, "ca_root"), "cannot read the CA: %v", describeFSErr(err))
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			r.p.errf(join(op, "ca_root"), "%s holds no PEM certificate", o.CARoot)
			return
		}
		o.CAPool = pool
	}
}

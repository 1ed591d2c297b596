package config

import (
	"net/http"
	"time"

	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

// Defaults that are not obvious from the field comments.
const (
	DefaultHTTPAddr       = "127.0.0.1:8080"
	DefaultHTTPSAddr      = "127.0.0.1:8443"
	DefaultAdminTokenEnv  = "SESSIOND_ADMIN_TOKEN"
	DefaultMaxHeaderBytes = 8192
	// DefaultReadHeaderTimeout and DefaultIdleTimeout bound a client's
	// connection (listen.timeouts).
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	// DefaultRequestBodyTimeout and DefaultRequestBodyMinRate bound a
	// request body as Apache's mod_reqtimeout does by default
	// (body=20,MinRate=500); MaxRequestBodyMinRate bounds the rate.
	DefaultRequestBodyTimeout = 20 * time.Second
	DefaultRequestBodyMinRate = 500
	MaxRequestBodyMinRate     = 1 << 30
	// DefaultHSTSMaxAge is the HSTS max-age of https-only sites (not with
	// dev_tls).
	DefaultHSTSMaxAge = 365 * 24 * time.Hour
	// MaxRatePer and MaxRateAttempts bound a Rate.
	MaxRatePer      = 24 * time.Hour
	MaxRateAttempts = 1_000_000
	// DefaultRevocationsPath is the cookie store's revocation database,
	// relative to the config file's directory.
	DefaultRevocationsPath = "sessiond-revocations.db"
)

// Default returns a configuration with every global default and no sites.
func Default() Config {
	return Config{
		Listen: Listen{
			HTTP:     HTTPListener{Addr: DefaultHTTPAddr},
			Admin:    AdminListener{TokenEnv: DefaultAdminTokenEnv, MetricsPath: "/metrics"},
			Timeouts: ServerTimeouts{ReadHeader: DefaultReadHeaderTimeout, Idle: DefaultIdleTimeout},
		},
		Audit:     Audit{Log: "stderr"},
		AccessLog: AccessLog{Log: "off", Format: "combined"},
		Limits: Limits{
			UnknownIDs: Rate{Attempts: session.DefaultUnknownIDLimit, Per: time.Minute},
			MaxClients: 100_000,
		},
	}
}

// DefaultSite returns a site with every default set and no hosts or
// backend.
func DefaultSite() Site {
	return Site{
		Session: Session{
			Mode:            ModeHTTPSOnly,
			Cookie:          Cookie{Path: "/", SameSite: SameSiteLax},
			IdleTimeout:     session.DefaultIdleTimeout,
			AbsoluteTimeout: session.DefaultAbsoluteTimeout,
			RotateEvery:     session.DefaultRotateEvery,
			Grace:           session.DefaultGrace,
			Bind:            Bind{IP: BindIPOff, Action: session.BindLog},
		},
		Auth: Auth{
			LoginPath:   "/login",
			LogoutPath:  "/logout",
			ReauthAfter: 15 * time.Minute,
			Remember:    Remember{ReuseGrace: 10 * time.Second},
			RateLimit: AuthRateLimit{
				PerIP:     Rate{Attempts: 20, Per: time.Minute},
				PerUser:   Rate{Attempts: 10, Per: time.Minute},
				PerDevice: Rate{Attempts: 10, Per: time.Hour},
			},
		},
		Redirects:      Redirects{Status: http.StatusFound},
		Headers:        wire.Headers{}.WithDefaults(),
		MaxHeaderBytes: DefaultMaxHeaderBytes,
		Timeouts:       SiteTimeouts{RequestBody: DefaultRequestBodyTimeout, RequestBodyMinRate: DefaultRequestBodyMinRate, UpstreamHeader: time.Minute},
		CSRF:           CSRF{EnforceOrigin: true},
	}
}

// setDefaults lets the decoder start each new list element or optional
// block from its defaults.
func (s *Site) setDefaults()         { *s = DefaultSite() }
func (r *RedirectRule) setDefaults() { r.To = secure.HTTPS }
func (d *DirRoute) setDefaults()     { d.Prefix = "/" }
func (m *ModCrypto) setDefaults()    { m.CookieName = "session"; m.Cipher = "aes256" }
func (s *SQLiteStore) setDefaults()  { s.Path = "sessiond.db" }
func (o *OIDC) setDefaults()         { *o = DefaultOIDC() }

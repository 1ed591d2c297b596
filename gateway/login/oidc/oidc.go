// Package oidc signs users in at an OpenID provider: a login.Method for
// the gateway's sites (configured by an auth.oidc block, config.OIDC).
//
// Sign-in is the authorization code flow with PKCE (S256), state and
// nonce. The state, nonce and code verifier live in the browser's session
// (server-side, or sealed with the cookie store), are single-use (also
// against a replayed cookie: every used state is claimed in the store's
// State, so on every gateway of the store) and
// expire after StateLifetime. The callback verifies the state, then the
// ID token's signature (the provider's JWKS; "alg: none" is never
// accepted), issuer, audience, expiry and nonce, applies the allowed_*
// lists, and signs the user in with a hard regeneration. Tokens stay in
// the session's secure partition: never sent to a backend, never over
// plain HTTP.
//
// A signed-in user is re-checked at the provider at most every
// RefreshEvery with the refresh token (when the provider issued one): a
// refused refresh, or a user the allowed_* lists no longer admit, signs
// out; a provider that cannot be reached keeps the session until
// DownGrace past the last good check. Logout sends the browser to the
// provider's end_session_endpoint with id_token_hint, and the provider's
// Back-Channel Logout 1.0 tokens end the sessions of the sid or sub they
// name: recorded in the store's State, they sign those sessions out on
// every gateway of the store, before and after a restart.
//
// Before an action over the user's other sessions (past reauth_after),
// the site sends the browser back to the provider with prompt=login and
// max_age=0 (login.ReauthRedirector); only an ID token of the same user
// whose auth_time is fresh counts.
package oidc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/pages"
	"github.com/sessiond/sessiond/session"
)

// Name is the method's name in sessions, audit events and configuration.
const Name = "oidc"

// StateLifetime bounds the time between the start of a sign-in and the
// provider's callback.
const StateLifetime = 10 * time.Minute

// providerTimeout bounds each call to the provider (discovery, token
// exchange, refresh, JWKS).
const providerTimeout = 10 * time.Second

// Config configures a Method.
type Config struct {
	// OIDC is the site's auth.oidc block, as Load or Validate left it.
	OIDC *config.OIDC
	// Site is the site the method signs users in to.
	Site login.Site
	// State is the store's shared state (the gateway's State): the
	// back-channel logouts and used sign-in states, seen by every gateway
	// on the store. Required.
	State State
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// State is what the method keeps in the store beside the sessions
// (gateway.State): write-once claims, and reading them.
type State interface {
	Claim(ctx context.Context, key string, until time.Time) (first bool, err error)
	ClaimedUntil(ctx context.Context, key string) (time.Time, error)
}

// Method is the OpenID Connect login of one site.
type Method struct {
	cfg    config.OIDC
	site   login.Site
	now    func() time.Time
	client *http.Client

	fetching  sync.Mutex                 // one discovery at a time
	discovery atomic.Pointer[discovered] // nil until the provider answered once

	state   State        // used sign-in states
	logouts logouts      // back-channel logouts of the realm, on the store
	signins *signinIndex // sessions signed in here, by sid and sub (per realm, shared)
	refresh *refreshSet  // refreshes in flight and just done, per session
	down    *downTracker // when the provider last failed to answer
}

// discovered is what the provider's discovery document gave.
type discovered struct {
	provider   *gooidc.Provider
	oauth      oauth2.Config
	verifier   *gooidc.IDTokenVerifier
	endSession string // "" if the provider has no end_session_endpoint
}

// New checks cfg and builds the method. It does not contact the provider:
// discovery happens at the first sign-in, so a provider that is down does
// not stop the gateway.
func New(cfg Config) (*Method, error) {
	if cfg.OIDC == nil || cfg.Site == nil || cfg.State == nil {
		return nil, errors.New("oidc: OIDC, Site and State are required")
	}
	o := *cfg.OIDC
	if o.Issuer == "" || o.ClientID == "" || o.UserClaim == "" || o.RefreshEvery <= 0 {
		return nil, errors.New("oidc: issuer, client_id, user_claim and refresh_every are required (config.OIDC after Validate)")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if o.CAPool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: o.CAPool, MinVersion: tls.VersionTLS12}
	}
	return &Method{
		cfg: o, site: cfg.Site, now: now,
		client:  &http.Client{Transport: tr, Timeout: providerTimeout},
		state:   cfg.State,
		logouts: logouts{st: cfg.State, scope: o.Issuer + "\x00" + cfg.Site.Realm(), keep: keepEnded},
		signins: signinsFor(o.Issuer, cfg.Site.Realm()),
		refresh: newRefreshSet(),
		down:    &downTracker{},
	}, nil
}

// Name implements login.Method.
func (m *Method) Name() string { return Name }

// Routes implements login.Method: the start of a sign-in, the provider's
// callback, its back-channel logout and the return from its logout.
func (m *Method) Routes() []login.Route {
	return []login.Route{
		{Path: config.OIDCLoginPath, Handler: http.HandlerFunc(m.serveStart)},
		{Path: config.OIDCCallbackPath, Handler: http.HandlerFunc(m.serveCallback)},
		{Path: config.OIDCBackchannelPath, Handler: http.HandlerFunc(m.serveBackchannel)},
		{Path: config.OIDCSignedOutPath, Handler: http.HandlerFunc(m.serveSignedOut)},
	}
}

// Offer implements login.Method: a "Sign in with ..." button.
func (m *Method) Offer(r *http.Request, next string) login.Offer {
	return login.Offer{Buttons: []pages.Provider{{
		ID: "oidc", Name: m.cfg.Name,
		URL: config.OIDCLoginPath + "?next=" + url.QueryEscape(next),
	}}}
}

// StartURL is where a client that must sign in is sent when this is the
// site's only method: the sign-in itself, returning to next.
func (m *Method) StartURL(next string) string {
	return m.site.HTTPSOrigin() + config.OIDCLoginPath + "?next=" + url.QueryEscape(login.SafeNext(next))
}

// Recognize implements login.Method: a provider session alone never signs
// a browser in without it asking.
func (m *Method) Recognize(http.ResponseWriter, *http.Request, *session.Session) {}

// ForgetUser implements login.Method: the method keeps nothing that could
// sign the user back in.
func (m *Method) ForgetUser(context.Context, http.ResponseWriter, *http.Request, string) error {
	return nil
}

// Cookies implements login.Method: the method has no cookie of its own.
func (m *Method) Cookies() []string { return nil }

// signinsBy holds, per provider and realm, the sessions this process
// signed in: the sites of a realm share sessions, so a back-channel
// logout at one of them ends them at all; and a reload of the
// configuration, which builds new Methods, forgets none of them.
var (
	signinsMu sync.Mutex
	signinsBy = map[[2]string]*signinIndex{}
)

func signinsFor(issuer, realm string) *signinIndex {
	signinsMu.Lock()
	defer signinsMu.Unlock()
	k := [2]string{issuer, realm}
	if x, ok := signinsBy[k]; ok {
		return x
	}
	x := newSigninIndex()
	signinsBy[k] = x
	return x
}

// errProviderDown marks a provider that did not answer (network, 5xx).
var errProviderDown = errors.New("the provider cannot be reached")

// discover returns the provider's endpoints and keys, fetching the
// discovery document the first time, or again when fresh (the start of a
// sign-in: a provider that is down is then told at once, with a page,
// instead of a browser sent to a dead address).
func (m *Method) discover(ctx context.Context, fresh bool) (*discovered, error) {
	if d := m.discovery.Load(); d != nil && !fresh {
		return d, nil
	}
	m.fetching.Lock()
	defer m.fetching.Unlock()
	ctx, cancel := context.WithTimeout(gooidc.ClientContext(ctx, m.client), providerTimeout)
	defer cancel()
	p, err := gooidc.NewProvider(ctx, m.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery: %v", errProviderDown, err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&extra) // optional: without it, logout stays local
	d := &discovered{
		provider: p,
		oauth: oauth2.Config{
			ClientID:     m.cfg.ClientID,
			ClientSecret: m.cfg.ClientSecret.Reveal(),
			Endpoint:     p.Endpoint(),
			RedirectURL:  m.site.HTTPSOrigin() + config.OIDCCallbackPath,
			Scopes:       m.cfg.Scopes,
		},
		verifier:   p.VerifierContext(gooidc.ClientContext(context.Background(), m.client), &gooidc.Config{ClientID: m.cfg.ClientID, Now: m.now}),
		endSession: extra.EndSession,
	}
	m.discovery.Store(d)
	return d, nil
}

// ctx gives the provider calls of a request the method's HTTP client and
// timeout.
func (m *Method) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(gooidc.ClientContext(parent, m.client), providerTimeout)
}

var _ login.ReauthRedirector = (*Method)(nil)

package testoidc

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is one authorization request from its /authorize until its
// code is redeemed. It implements op.AuthRequest.
type authRequest struct {
	id           string
	clientID     string
	redirectURI  string
	state        string
	nonce        string
	scopes       []string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	prompt       []string
	challenge    *oidc.CodeChallenge

	// Set by the login step.
	done     bool
	subject  string
	sid      string
	authTime time.Time
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return amrFor(a.done) }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

func amrFor(done bool) []string {
	if done {
		return []string{"pwd"}
	}
	return nil
}

// refreshToken is one issued refresh token; the token string is its ID.
type refreshToken struct {
	token    string
	clientID string
	subject  string
	sid      string
	scopes   []string
	authTime time.Time
	expires  time.Time
	access   string // ID of the access token issued beside it
}

// refreshRequest implements op.RefreshTokenRequest over a copy of a stored
// refresh token, so op may narrow its scopes without touching the store.
type refreshRequest struct{ rt refreshToken }

func (r *refreshRequest) GetAMR() []string            { return amrFor(true) }
func (r *refreshRequest) GetAudience() []string       { return []string{r.rt.clientID} }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.rt.authTime }
func (r *refreshRequest) GetClientID() string         { return r.rt.clientID }
func (r *refreshRequest) GetScopes() []string         { return r.rt.scopes }
func (r *refreshRequest) GetSubject() string          { return r.rt.subject }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.rt.scopes = s }

// accessToken is one issued access token (opaque to clients: op encrypts
// its ID).
type accessToken struct {
	id       string
	clientID string
	subject  string
	scopes   []string
	expires  time.Time
}

// opClient presents a registered Client to op.
type opClient struct {
	c        Client
	idTTL    time.Duration
	loginURL string
}

var _ op.Client = (*opClient)(nil)

func (c *opClient) GetID() string                       { return c.c.ID }
func (c *opClient) RedirectURIs() []string              { return c.c.RedirectURIs }
func (c *opClient) PostLogoutRedirectURIs() []string    { return c.c.PostLogoutRedirectURIs }
func (c *opClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *opClient) AuthMethod() oidc.AuthMethod {
	if c.c.Secret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *opClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *opClient) LoginURL(id string) string            { return c.loginURL + "?" + loginParamID + "=" + id }
func (c *opClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *opClient) IDTokenLifetime() time.Duration       { return c.idTTL }
func (c *opClient) DevMode() bool                        { return true } // http redirect URIs on loopback
func (c *opClient) ClockSkew() time.Duration             { return 0 }
func (c *opClient) IsScopeAllowed(scope string) bool     { return scope == ScopeGroups }
func (c *opClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// withOffline returns scopes with offline_access added when always is set:
// op issues a refresh token only for that scope.
func withOffline(scopes []string, always bool) []string {
	if !always || slices.Contains(scopes, oidc.ScopeOfflineAccess) {
		return scopes
	}
	return append(slices.Clone(scopes), oidc.ScopeOfflineAccess)
}

// Package testoidc runs a real OpenID provider on loopback for tests: the
// op package of github.com/zitadel/oidc/v3 (an OpenID-certified
// implementation) over a small in-memory storage of its own.
//
// The provider serves discovery, JWKS, the authorization code flow (PKCE
// S256, nonce, state), refresh tokens (with offline_access, or always with
// Config.AlwaysRefreshToken; rotated on every use), userinfo, introspection,
// revocation and RP-initiated logout (end_session_endpoint with
// id_token_hint and post_logout_redirect_uri). ID tokens carry sub, email,
// email_verified, preferred_username, name, groups and sid, the provider
// session that Back-Channel Logout 1.0 logout tokens name.
//
// It listens on 127.0.0.1 with TLS under a test CA of its own (CAPEM gives
// the PEM for the file a relying party's ca_root names, HTTPClient a client
// that trusts it), or on plain http with Config.PlainHTTP.
//
// # Signing in without a person
//
// NextUser("alice") makes the next login step sign alice in with no page:
// an http.Client with a cookie jar following redirects, or a headless
// browser, goes from the authorization URL straight back to the client's
// redirect URI. Without a queued user the provider shows a login form
// (input[name=username], input[name=password], button#signin) that a
// browser can fill or an http client can post. Once signed in, the browser
// holds the provider's SessionCookie and later authorizations sign the same
// user in at once (single sign-on) until it logs out at the provider.
// DenyNext makes the next login answer error=access_denied.
//
// # Knobs for tests
//
//   - Stop and Start take the provider down and up again on the same
//     address with the same keys and state.
//   - RevokeRefreshTokens refuses a user's next refresh (invalid_grant);
//     UpdateUser changes a user's claims (groups, email).
//   - LogoutUser ends a user's provider sessions and sends logout tokens to
//     each client's BackchannelLogoutURI (see Deliveries); the end-session
//     endpoint does the same for the session it ends.
//   - LogoutToken and PostLogoutToken mint and deliver a logout token by
//     hand; LogoutTokenClaims with Sign makes bad ones.
//   - ForgeNextIDToken makes the token endpoint return an ID token a relying
//     party must refuse (WrongAudience, OtherIssuer, Expired, WrongNonce,
//     Unsigned, BadSignature, or any Forgery); Sign mints any JWT with the
//     provider's key, alg none, or a key outside the JWKS.
//
// The package is for tests only: nothing in it is hardened, and it keeps
// everything in memory.
package testoidc

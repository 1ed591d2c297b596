package testoidc_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sessiond/sessiond/internal/testoidc"
)

var (
	alice = testoidc.User{Subject: "u-alice", Username: "alice", Email: "alice@example.com", Name: "Alice", Groups: []string{"staff", "admins"}}
	bob   = testoidc.User{Subject: "u-bob", Username: "bob", Email: "bob@other.example", Password: "hunter2"}
)

// rp is a relying party as sessiond builds one: go-oidc + x/oauth2 with
// PKCE S256, state and nonce, and a browser-like client (cookie jar,
// following redirects) that stops at its own callback.
type rp struct {
	t        *testing.T
	p        *testoidc.Provider
	ctx      context.Context
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
	browser  *http.Client
	callback *httptest.Server
	got      chan url.Values // callback queries, with the path as "_path"
	logout   chan string     // logout tokens posted to /backchannel
}

func newRP(t *testing.T, cfg testoidc.Config) *rp {
	t.Helper()
	r := &rp{t: t, got: make(chan url.Values, 4), logout: make(chan string, 8)}
	r.callback = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/favicon.ico": // browsers ask; not a callback
			http.NotFound(w, req)
			return
		case "/backchannel":
			req.ParseForm()
			r.logout <- req.PostForm.Get("logout_token")
			return
		}
		q := req.URL.Query()
		q.Set("_path", req.URL.Path)
		r.got <- q
		w.Write([]byte("callback reached"))
	}))
	t.Cleanup(r.callback.Close)
	for i := range cfg.Clients {
		cfg.Clients[i].RedirectURIs = []string{r.callback.URL + "/cb"}
		cfg.Clients[i].PostLogoutRedirectURIs = []string{r.callback.URL + "/bye"}
		cfg.Clients[i].BackchannelLogoutURI = r.callback.URL + "/backchannel"
	}
	r.p = testoidc.Run(t, cfg)
	r.ctx = oidc.ClientContext(context.Background(), r.p.HTTPClient())
	var err error
	if r.provider, err = oidc.NewProvider(r.ctx, r.p.Issuer()); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	c := cfg.Clients[0]
	r.conf = oauth2.Config{
		ClientID: c.ID, ClientSecret: c.Secret, Endpoint: r.provider.Endpoint(),
		RedirectURL: r.callback.URL + "/cb",
		Scopes:      []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess},
	}
	r.verifier = r.provider.Verifier(&oidc.Config{ClientID: c.ID})
	r.browser = r.newBrowser()
	return r
}

func (r *rp) newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	b := r.p.HTTPClient()
	b.Jar = jar
	return b
}

// authorize runs the browser from the authorization URL to the callback
// and returns the callback's query; the test has queued the login.
func (r *rp) authorize(browser *http.Client, state, nonce, verifier string, extra ...oauth2.AuthCodeOption) url.Values {
	r.t.Helper()
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}, extra...)
	resp, err := browser.Get(r.conf.AuthCodeURL(state, opts...))
	if err != nil {
		r.t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	select {
	case q := <-r.got:
		return q
	default:
		r.t.Fatalf("authorize: ended at %s (%d), not at the callback", resp.Request.URL, resp.StatusCode)
		return nil
	}
}

// login runs a whole code flow and returns the verified token and ID token.
func (r *rp) login(browser *http.Client) (*oauth2.Token, *oidc.IDToken) {
	r.t.Helper()
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	q := r.authorize(browser, state, nonce, verifier)
	if q.Get("state") != state || q.Get("code") == "" {
		r.t.Fatalf("callback query %v: want state %q and a code", q, state)
	}
	tok, err := r.conf.Exchange(r.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		r.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		r.t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != nonce {
		r.t.Fatalf("nonce %q, want %q", idt.Nonce, nonce)
	}
	return tok, idt
}

type claims struct {
	Email             string   `json:"email"`
	EmailVerified     bool     `json:"email_verified"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
	SID               string   `json:"sid"`
}

func defaultConfig() testoidc.Config {
	return testoidc.Config{
		Users:   []testoidc.User{alice, bob},
		Clients: []testoidc.Client{{ID: "sessiond", Secret: "s3cret"}},
	}
}

func TestDiscovery(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(map[bool]string{false: "https", true: "http"}[plain], func(t *testing.T) {
			cfg := defaultConfig()
			cfg.PlainHTTP = plain
			r := newRP(t, cfg)
			if !strings.HasPrefix(r.p.Issuer(), map[bool]string{false: "https://127.0.0.1:", true: "http://127.0.0.1:"}[plain]) {
				t.Errorf("issuer %q", r.p.Issuer())
			}
			var doc struct {
				EndSession      string   `json:"end_session_endpoint"`
				JWKS            string   `json:"jwks_uri"`
				Userinfo        string   `json:"userinfo_endpoint"`
				Challenge       []string `json:"code_challenge_methods_supported"`
				Backchannel     bool     `json:"backchannel_logout_supported"`
				BackchannelSess bool     `json:"backchannel_logout_session_supported"`
				SigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
				SupportedScopes []string `json:"scopes_supported"`
			}
			if err := r.provider.Claims(&doc); err != nil {
				t.Fatal(err)
			}
			if doc.EndSession == "" || doc.JWKS == "" || doc.Userinfo == "" || !slices.Contains(doc.Challenge, "S256") ||
				!doc.Backchannel || !doc.BackchannelSess || !slices.Contains(doc.SigningAlgs, "RS256") {
				t.Errorf("discovery document lacks something: %+v", doc)
			}
		})
	}
}

func TestCodeFlowNextUser(t *testing.T) {
	r := newRP(t, defaultConfig())
	r.p.NextUser("alice")
	tok, idt := r.login(r.browser)
	var c claims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	want := claims{Email: alice.Email, EmailVerified: true, PreferredUsername: "alice", Groups: alice.Groups, SID: c.SID}
	if idt.Subject != alice.Subject || !equalClaims(c, want) || c.SID == "" {
		t.Errorf("ID token sub %q claims %+v; want sub %q %+v and a sid", idt.Subject, c, alice.Subject, want)
	}
	if got := r.p.Sessions("alice"); !slices.Equal(got, []string{c.SID}) {
		t.Errorf("Sessions(alice) = %v, want [%s]", got, c.SID)
	}
	ui, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uc claims
	ui.Claims(&uc)
	if ui.Subject != alice.Subject || ui.Email != alice.Email || !slices.Equal(uc.Groups, alice.Groups) {
		t.Errorf("userinfo %+v %+v", ui, uc)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token for offline_access")
	}
}

func equalClaims(a, b claims) bool {
	return a.Email == b.Email && a.EmailVerified == b.EmailVerified && a.PreferredUsername == b.PreferredUsername &&
		slices.Equal(a.Groups, b.Groups) && a.SID == b.SID
}

// TestCodeFlowForm signs in through the login form as a browser would,
// then a second authorization is signed in from the provider's cookie.
func TestCodeFlowForm(t *testing.T) {
	r := newRP(t, defaultConfig())
	state, verifier := rand.Text(), oauth2.GenerateVerifier()
	resp, err := r.browser.Get(r.conf.AuthCodeURL(state, oidc.Nonce("n1"), oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loginURL := resp.Request.URL
	if resp.StatusCode != http.StatusOK || loginURL.Path != "/login" {
		t.Fatalf("got %d at %s, want the login form", resp.StatusCode, loginURL)
	}
	form := func(password string) *http.Response {
		resp, err := r.browser.PostForm(r.p.Endpoint("/login"), url.Values{
			"authRequestID": {loginURL.Query().Get("authRequestID")}, "username": {"bob"}, "password": {password},
		})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := form("wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d, want 401", resp.StatusCode)
	}
	form("hunter2")
	q := <-r.got
	tok, err := r.conf.Exchange(r.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := r.verifier.Verify(r.ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Subject != bob.Subject {
		t.Fatalf("verify: %v, sub %v", err, idt)
	}
	// Same browser, no NextUser: signed in from the provider's cookie.
	if _, idt2 := r.login(r.browser); idt2.Subject != bob.Subject {
		t.Errorf("SSO sign-in as %q, want %q", idt2.Subject, bob.Subject)
	}
}

func TestCodeReplayRefused(t *testing.T) {
	r := newRP(t, defaultConfig())
	r.p.NextUser("alice")
	verifier := oauth2.GenerateVerifier()
	q := r.authorize(r.browser, "st", "n", verifier)
	if _, err := r.conf.Exchange(r.ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatal(err)
	}
	_, err := r.conf.Exchange(r.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("replayed code: %v, want invalid_grant", err)
	}
}

func TestPKCEWrongVerifierRefused(t *testing.T) {
	r := newRP(t, defaultConfig())
	r.p.NextUser("alice")
	q := r.authorize(r.browser, "st", "n", oauth2.GenerateVerifier())
	_, err := r.conf.Exchange(r.ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Errorf("wrong code_verifier: %v, want an OAuth error", err)
	}
}

func TestDenyNext(t *testing.T) {
	r := newRP(t, defaultConfig())
	r.p.DenyNext()
	q := r.authorize(r.browser, "st", "n", oauth2.GenerateVerifier())
	if q.Get("error") != "access_denied" || q.Get("state") != "st" || q.Get("code") != "" {
		t.Errorf("callback %v, want error=access_denied with the state and no code", q)
	}
}

func TestRefreshThenRevoked(t *testing.T) {
	r := newRP(t, defaultConfig())
	r.p.NextUser("alice")
	tok, _ := r.login(r.browser)
	tok.Expiry = tok.Expiry.Add(-24 * 60 * 60 * 1e9) // force a refresh
	fresh, err := r.conf.TokenSource(r.ctx, tok).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
		t.Error("refresh did not rotate the tokens")
	}
	if _, err := r.verifier.Verify(r.ctx, fresh.Extra("id_token").(string)); err != nil {
		t.Errorf("refreshed ID token: %v", err)
	}
	// The spent refresh token is refused.
	if _, err := r.conf.TokenSource(r.ctx, tok).Token(); err == nil {
		t.Error("rotated-away refresh token accepted")
	}
	if n := r.p.RevokeRefreshTokens("alice"); n != 1 {
		t.Errorf("revoked %d refresh tokens, want 1", n)
	}
	fresh.Expiry = tok.Expiry
	_, err = r.conf.TokenSource(r.ctx, fresh).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh after revoke: %v, want invalid_grant", err)
	}
}

func TestAlwaysRefreshToken(t *testing.T) {
	cfg := defaultConfig()
	cfg.AlwaysRefreshToken = true
	r := newRP(t, cfg)
	r.conf.Scopes = []string{oidc.ScopeOpenID, "email"}
	r.p.NextUser("alice")
	if tok, _ := r.login(r.browser); tok.RefreshToken == "" {
		t.Error("no refresh token with AlwaysRefreshToken")
	}
}

func TestStopStart(t *testing.T) {
	r := newRP(t, defaultConfig())
	r.p.Stop()
	if _, err := oidc.NewProvider(r.ctx, r.p.Issuer()); err == nil {
		t.Fatal("discovery worked with the provider stopped")
	}
	if err := r.p.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := oidc.NewProvider(r.ctx, r.p.Issuer()); err != nil {
		t.Fatalf("discovery after Start: %v", err)
	}
	r.p.NextUser("alice")
	r.login(r.browser) // same keys: the verifier's cached JWKS still works
}

func TestConfigRefused(t *testing.T) {
	for name, cfg := range map[string]testoidc.Config{
		"no users":         {Clients: []testoidc.Client{{ID: "c", RedirectURIs: []string{"http://x/cb"}}}},
		"no clients":       {Users: []testoidc.User{alice}},
		"no redirect":      {Users: []testoidc.User{alice}, Clients: []testoidc.Client{{ID: "c"}}},
		"user without sub": {Users: []testoidc.User{{Username: "x"}}, Clients: []testoidc.Client{{ID: "c", RedirectURIs: []string{"http://x/cb"}}}},
		"duplicate user":   {Users: []testoidc.User{alice, alice}, Clients: []testoidc.Client{{ID: "c", RedirectURIs: []string{"http://x/cb"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			if p, err := testoidc.New(cfg); err == nil {
				p.Stop()
				t.Fatal("accepted")
			}
		})
	}
}

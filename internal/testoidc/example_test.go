package testoidc_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sessiond/sessiond/internal/testoidc"
)

// A relying party signs alice in with the authorization code flow; the
// redirect URI is never reached: the client stops at it and reads the code.
func Example() {
	const callback = "http://127.0.0.1:9/.sessiond/oidc/callback"
	p, err := testoidc.New(testoidc.Config{
		Users:   []testoidc.User{{Subject: "u1", Username: "alice", Email: "alice@example.com", Groups: []string{"staff"}}},
		Clients: []testoidc.Client{{ID: "sessiond", Secret: "secret", RedirectURIs: []string{callback}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Stop()
	// A sessiond under test gets issuer: p.Issuer() and ca_root: a file holding p.CAPEM().

	ctx := oidc.ClientContext(context.Background(), p.HTTPClient())
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		fmt.Println(err)
		return
	}
	conf := oauth2.Config{
		ClientID: "sessiond", ClientSecret: "secret", RedirectURL: callback,
		Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email"},
	}

	p.NextUser("alice") // the next login step signs alice in, no page
	browser := p.HTTPClient()
	browser.Jar, _ = cookiejar.New(nil)
	browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), callback) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	verifier := oauth2.GenerateVerifier()
	resp, err := browser.Get(conf.AuthCodeURL("state1", oidc.Nonce("nonce1"), oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	loc, _ := resp.Location()
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		fmt.Println(err)
		return
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: "sessiond"}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		fmt.Println(err)
		return
	}
	var claims struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	idt.Claims(&claims)
	fmt.Println(loc.Query().Get("state"), idt.Subject, idt.Nonce, claims.Email, claims.Groups)
	// Output: state1 u1 nonce1 alice@example.com [staff]
}

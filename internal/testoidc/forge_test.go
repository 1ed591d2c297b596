package testoidc_test

import (
	"crypto/rand"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sessiond/sessiond/internal/testoidc"
)

// exchange runs a code flow up to the token response and returns the raw
// ID token with the nonce sent.
func (r *rp) exchange() (rawIDToken, nonce string) {
	r.t.Helper()
	nonce, verifier := rand.Text(), oauth2.GenerateVerifier()
	q := r.authorize(r.browser, "st", nonce, verifier)
	tok, err := r.conf.Exchange(r.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		r.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	return raw, nonce
}

// TestForgeNextIDToken: each forgery yields an ID token go-oidc refuses
// (or, for the nonce, one whose nonce is not the one sent); the queue is
// used once, and the next response is genuine again.
func TestForgeNextIDToken(t *testing.T) {
	r := newRP(t, defaultConfig())
	for _, tc := range []struct {
		name       string
		f          testoidc.Forgery
		wrongNonce bool
	}{
		{"wrong audience", testoidc.WrongAudience, false},
		{"other issuer", testoidc.OtherIssuer, false},
		{"expired", testoidc.Expired, false},
		{"alg none", testoidc.Unsigned, false},
		{"bad signature", testoidc.BadSignature, false},
		{"wrong nonce", testoidc.WrongNonce, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			r.p.NextUser("alice")
			r.p.ForgeNextIDToken(tc.f)
			raw, nonce := r.exchange()
			idt, err := r.verifier.Verify(r.ctx, raw)
			switch {
			case tc.wrongNonce && (err != nil || idt.Nonce == nonce):
				t.Errorf("verify: %v; nonce %v, want a valid token with another nonce", err, idt)
			case !tc.wrongNonce && err == nil:
				t.Errorf("forged ID token verified: %+v", idt)
			case err != nil:
				t.Logf("refused: %v", err)
			}
			raw, nonce = r.exchange() // SSO cookie: no NextUser needed
			if idt, err := r.verifier.Verify(r.ctx, raw); err != nil || idt.Nonce != nonce {
				t.Errorf("the response after the forged one: %v", err)
			}
		})
	}
}

// TestPrompt: prompt=none signs in from the provider session or answers
// login_required; prompt=login shows the form despite the session.
func TestPrompt(t *testing.T) {
	r := newRP(t, defaultConfig())
	verifier := oauth2.GenerateVerifier()
	if q := r.authorize(r.browser, "s", "n", verifier, oauth2.SetAuthURLParam("prompt", "none")); q.Get("error") != "login_required" {
		t.Errorf("prompt=none without a session: %v, want login_required", q)
	}
	r.p.NextUser("alice")
	r.login(r.browser)
	if q := r.authorize(r.browser, "s", "n", verifier, oauth2.SetAuthURLParam("prompt", "none")); q.Get("code") == "" {
		t.Errorf("prompt=none with a session: %v, want a code", q)
	}
	resp, err := r.browser.Get(r.conf.AuthCodeURL("s", oidc.Nonce("n"), oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "login")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/login" {
		t.Errorf("prompt=login ended at %s, want the login form", resp.Request.URL)
	}
}

package testoidc_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/sessiond/sessiond/internal/testoidc"
)

// checkLogoutToken verifies a logout token against the provider's JWKS and
// checks what Back-Channel Logout 1.0 requires of it.
func (r *rp) checkLogoutToken(raw, sub, sid string) {
	r.t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		r.t.Fatalf("logout token: %v", err)
	}
	if typ := jws.Signatures[0].Header.ExtraHeaders["typ"]; typ != "logout+jwt" {
		r.t.Errorf("logout token typ %v, want logout+jwt", typ)
	}
	// go-oidc's ID token verifier checks signature (JWKS), iss, aud and exp.
	tok, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		r.t.Fatalf("logout token does not verify: %v", err)
	}
	var c struct {
		Events map[string]map[string]any `json:"events"`
		SID    string                    `json:"sid"`
		JTI    string                    `json:"jti"`
		Nonce  *string                   `json:"nonce"`
	}
	if err := tok.Claims(&c); err != nil {
		r.t.Fatal(err)
	}
	if _, ok := c.Events[testoidc.EventBackchannelLogout]; !ok || c.JTI == "" || c.Nonce != nil {
		r.t.Errorf("logout token claims %+v: want the back-channel event, a jti and no nonce", c)
	}
	if tok.Subject != sub || c.SID != sid {
		r.t.Errorf("logout token sub %q sid %q, want %q %q", tok.Subject, c.SID, sub, sid)
	}
}

func sidOf(t *testing.T, idt *oidc.IDToken) string {
	t.Helper()
	var c claims
	if err := idt.Claims(&c); err != nil || c.SID == "" {
		t.Fatalf("ID token has no sid (%v)", err)
	}
	return c.SID
}

func (r *rp) endSessionURL(idToken, redirect string) string {
	return r.endSessionEndpoint() + "?" + url.Values{
		"id_token_hint": {idToken}, "post_logout_redirect_uri": {redirect}, "state": {"bye-state"},
	}.Encode()
}

func (r *rp) endSessionEndpoint() string {
	var doc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := r.provider.Claims(&doc); err != nil || doc.EndSession == "" {
		r.t.Fatalf("no end_session_endpoint: %v", err)
	}
	return doc.EndSession
}

// TestRPInitiatedLogout: the end-session endpoint with id_token_hint
// returns to the registered post_logout_redirect_uri, sends a back-channel
// logout token, makes refresh fail and ends single sign-on.
func TestRPInitiatedLogout(t *testing.T) {
	r := newRP(t, defaultConfig())
	r.p.NextUser("alice")
	tok, idt := r.login(r.browser)
	sid := sidOf(t, idt)

	resp, err := r.browser.Get(r.endSessionURL(tok.Extra("id_token").(string), r.callback.URL+"/bye"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if q := <-r.got; q.Get("_path") != "/bye" || q.Get("state") != "bye-state" {
		t.Errorf("after logout the browser reached %v, want /bye with the state", q)
	}
	r.checkLogoutToken(<-r.logout, alice.Subject, sid)
	if d := r.p.Deliveries(); len(d) != 1 || d[0].Status != http.StatusOK || d[0].Err != nil || d[0].SID != sid {
		t.Errorf("Deliveries() = %+v, want one 200 for %s", d, sid)
	}
	if s := r.p.Sessions("alice"); len(s) != 0 {
		t.Errorf("Sessions(alice) = %v after logout", s)
	}
	tok.Expiry = tok.Expiry.AddDate(-1, 0, 0)
	_, err = r.conf.TokenSource(r.ctx, tok).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh after logout: %v, want invalid_grant", err)
	}
	// No single sign-on any more: the same browser gets the login form.
	resp, err = r.browser.Get(r.conf.AuthCodeURL("s", oidc.Nonce("n"), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/login" || resp.StatusCode != http.StatusOK {
		t.Errorf("authorize after logout ended at %s (%d), want the login form", resp.Request.URL, resp.StatusCode)
	}
}

func TestEndSessionRefusesUnregisteredRedirect(t *testing.T) {
	r := newRP(t, defaultConfig())
	r.p.NextUser("alice")
	tok, _ := r.login(r.browser)
	resp, err := r.browser.Get(r.endSessionURL(tok.Extra("id_token").(string), r.callback.URL+"/evil"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case q := <-r.got:
		t.Errorf("browser sent to %v", q)
	default:
	}
	if resp.StatusCode < 400 || strings.Contains(resp.Request.URL.String(), "/evil") {
		t.Errorf("status %d at %s, want an error at the provider", resp.StatusCode, resp.Request.URL)
	}
	if len(r.p.Sessions("alice")) != 1 {
		t.Error("a refused end-session request ended the session")
	}
}

// TestLogoutUser ends two sessions of one user (two browsers) from the
// provider's side: a logout token per session reaches the client.
func TestLogoutUser(t *testing.T) {
	r := newRP(t, defaultConfig())
	r.p.NextUser("alice")
	_, idt1 := r.login(r.browser)
	r.p.NextUser("alice")
	tok2, idt2 := r.login(r.newBrowser())
	sid1, sid2 := sidOf(t, idt1), sidOf(t, idt2)
	if sid1 == sid2 {
		t.Fatal("two browsers share a sid")
	}
	if err := r.p.LogoutUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for range 2 {
		raw := <-r.logout
		c, _ := testoidc.Claims(raw)
		sid, _ := c["sid"].(string)
		r.checkLogoutToken(raw, alice.Subject, sid)
		got[sid] = true
	}
	if !got[sid1] || !got[sid2] {
		t.Errorf("logout tokens for %v, want %s and %s", got, sid1, sid2)
	}
	tok2.Expiry = tok2.Expiry.AddDate(-1, 0, 0)
	if _, err := r.conf.TokenSource(r.ctx, tok2).Token(); err == nil {
		t.Error("refresh works after LogoutUser")
	}
	if err := r.p.LogoutUser(context.Background(), "alice"); err == nil {
		t.Error("LogoutUser with no live session: no error")
	}
}

func TestPostLogoutToken(t *testing.T) {
	r := newRP(t, defaultConfig())
	for _, lt := range []testoidc.LogoutToken{{Subject: alice.Subject}, {SID: "sid-1"}, {Subject: alice.Subject, SID: "sid-2"}} {
		raw, err := r.p.LogoutToken(lt)
		if err != nil {
			t.Fatal(err)
		}
		status, err := r.p.PostLogoutToken(context.Background(), r.callback.URL+"/backchannel", raw)
		if err != nil || status != http.StatusOK {
			t.Fatalf("PostLogoutToken: %d, %v", status, err)
		}
		r.checkLogoutToken(<-r.logout, lt.Subject, lt.SID)
	}
	if _, err := r.p.LogoutToken(testoidc.LogoutToken{}); err == nil {
		t.Error("a logout token with neither sub nor sid was made")
	}
}

// TestSignedByHand: tokens minted with Sign verify only when signed with
// the provider's key.
func TestSignedByHand(t *testing.T) {
	r := newRP(t, defaultConfig())
	claims := r.p.LogoutTokenClaims(testoidc.LogoutToken{Subject: "u-alice"})
	for _, tc := range []struct {
		name string
		key  testoidc.Key
		ok   bool
	}{
		{"provider key", testoidc.KeyProvider, true},
		{"alg none", testoidc.KeyNone, false},
		{"foreign key", testoidc.KeyForeign, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := r.p.Sign(tc.key, "JWT", claims)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.verifier.Verify(r.ctx, raw); (err == nil) != tc.ok {
				t.Errorf("verify: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestEndSessionByHint: without the provider's cookie (another client
// than the browser) the id_token_hint's sid names the session to end.
func TestEndSessionByHint(t *testing.T) {
	r := newRP(t, defaultConfig())
	r.p.NextUser("alice")
	tok, idt := r.login(r.browser)
	resp, err := r.newBrowser().Get(r.endSessionURL(tok.Extra("id_token").(string), r.callback.URL+"/bye"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-r.got
	r.checkLogoutToken(<-r.logout, alice.Subject, sidOf(t, idt))
	if s := r.p.Sessions("alice"); len(s) != 0 {
		t.Errorf("Sessions(alice) = %v after logout by hint", s)
	}
}

package testoidc_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sessiond/sessiond/internal/testbrowser"
)

// TestBrowser drives headless Chromium through the provider: NextUser
// sign-in, the login form, single sign-on from the provider's cookie, and
// RP-initiated logout.
func TestBrowser(t *testing.T) {
	r := newRP(t, defaultConfig())
	b := testbrowser.Launch(t, testbrowser.Options{Timeout: 60 * time.Second})
	shots := testbrowser.ArtifactDir(t)

	// signIn navigates to a fresh authorization URL, runs steps at the
	// provider, and returns the verified ID token from the callback's code.
	signIn := func(tab context.Context, steps ...chromedp.Action[chromedp.Void]) (*oidc.IDToken, string) {
		t.Helper()
		state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
		actions := append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(r.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))}, steps...)
		if err := chromedp.Do(tab, actions...); err != nil {
			t.Fatalf("browser: %v\n%s", err, b.Output())
		}
		var q url.Values
		select {
		case q = <-r.got:
		case <-time.After(10 * time.Second):
			t.Fatal("the browser never reached the callback")
		}
		if q.Get("state") != state {
			t.Fatalf("callback state %v, want %s", q.Get("state"), state)
		}
		tok, err := r.conf.Exchange(r.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw := tok.Extra("id_token").(string)
		idt, err := r.verifier.Verify(r.ctx, raw)
		if err != nil || idt.Nonce != nonce {
			t.Fatalf("verify: %v (nonce %v)", err, idt)
		}
		return idt, raw
	}

	r.p.NextUser("alice")
	if idt, _ := signIn(b.Tab); idt.Subject != alice.Subject {
		t.Errorf("NextUser sign-in as %q, want alice", idt.Subject)
	}

	tab := b.NewIncognito(t)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err == nil {
				err = os.WriteFile(filepath.Join(shots, name), png, 0o644)
			}
			return chromedp.Void{}, err
		}
	}
	idt, raw := signIn(tab,
		chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)),
		shot("login-form.png"),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "bob"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), bob.Password),
		chromedp.Click(chromedp.ID("signin")),
	)
	if idt.Subject != bob.Subject {
		t.Errorf("form sign-in as %q, want bob", idt.Subject)
	}

	if idt, _ := signIn(tab); idt.Subject != bob.Subject {
		t.Errorf("single sign-on as %q, want bob", idt.Subject)
	}

	if err := chromedp.Do(tab, chromedp.Navigate(r.endSessionURL(raw, r.callback.URL+"/bye"))); err != nil {
		t.Fatal(err)
	}
	if q := <-r.got; q.Get("_path") != "/bye" {
		t.Errorf("after logout at %v, want /bye", q)
	}
	r.checkLogoutToken(<-r.logout, bob.Subject, sidOf(t, idt))
}

package testoidc

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Key selects how Sign signs a token.
type Key int

const (
	// KeyProvider signs with the provider's key (RS256, its kid): the
	// signature verifies against the provider's JWKS.
	KeyProvider Key = iota
	// KeyNone makes an unsecured JWT: header alg "none", empty signature.
	KeyNone
	// KeyForeign signs with another RSA key under the provider's kid: a
	// well-formed token whose signature does not verify.
	KeyForeign
)

// Sign encodes claims as a compact JWT with header typ (for example "JWT"
// or "logout+jwt"), signed as key says: for tests that mint their own good
// or bad tokens.
func (p *Provider) Sign(key Key, typ string, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("testoidc: claims: %w", err)
	}
	if key == KeyNone {
		head, _ := json.Marshal(map[string]string{"alg": "none", "typ": typ})
		return b64(head) + "." + b64(payload) + ".", nil
	}
	priv := p.store.key
	switch key {
	case KeyProvider:
	case KeyForeign:
		priv = p.store.foreign
	default:
		return "", fmt.Errorf("testoidc: unknown Key %d", key)
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.RS256,
		Key:       jose.JSONWebKey{Key: priv, KeyID: p.store.keyID, Algorithm: string(jose.RS256)},
	}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", fmt.Errorf("testoidc: signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("testoidc: sign: %w", err)
	}
	return jws.CompactSerialize()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Claims decodes the payload of a compact JWT without verifying it: for
// tests that inspect or re-sign a token the provider issued.
func Claims(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("testoidc: not a compact JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("testoidc: JWT payload: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, fmt.Errorf("testoidc: JWT payload: %w", err)
	}
	return claims, nil
}

// Forgery alters an ID token the token endpoint is about to send.
type Forgery struct {
	// Edit changes the claims (nil leaves them as issued).
	Edit func(claims map[string]any)
	// Key signs the result.
	Key Key
}

// Forgeries for attack tests: each makes the ID token one a relying party
// must refuse.
var (
	// WrongAudience: aud and azp name another client.
	WrongAudience = Forgery{Edit: func(c map[string]any) { c["aud"], c["azp"] = "another-client", "another-client" }}
	// OtherIssuer: iss is another provider.
	OtherIssuer = Forgery{Edit: func(c map[string]any) { c["iss"] = "https://other-issuer.example" }}
	// Expired: exp an hour ago (iat two hours ago).
	Expired = Forgery{Edit: func(c map[string]any) {
		now := time.Now()
		c["exp"], c["iat"] = now.Add(-time.Hour).Unix(), now.Add(-2*time.Hour).Unix()
	}}
	// WrongNonce: nonce is not the one the client sent.
	WrongNonce = Forgery{Edit: func(c map[string]any) { c["nonce"] = "not-the-nonce-sent" }}
	// Unsigned: alg "none".
	Unsigned = Forgery{Key: KeyNone}
	// BadSignature: signed by a key not in the JWKS.
	BadSignature = Forgery{Key: KeyForeign}
)

// ForgeNextIDToken makes the next successful token response (code or
// refresh grant) carry an ID token altered by f; calls queue.
func (p *Provider) ForgeNextIDToken(f Forgery) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.forgery = append(p.store.forgery, f)
}

// forgeTokens wraps the token endpoint: with a forgery queued it rewrites
// the id_token of the next successful response.
func (p *Provider) forgeTokens(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.store.mu.Lock()
		queued := len(p.store.forgery) > 0
		p.store.mu.Unlock()
		if !queued {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var resp map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(body, &resp) == nil {
			if idt, ok := resp["id_token"].(string); ok {
				if forged, err := p.forge(idt); err == nil {
					resp["id_token"] = forged
					body, _ = json.Marshal(resp)
				} else {
					rec.Code, body = http.StatusInternalServerError, []byte(err.Error())
				}
			}
		}
		maps.Copy(w.Header(), rec.Header())
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

func (p *Provider) forge(idToken string) (string, error) {
	p.store.mu.Lock()
	if len(p.store.forgery) == 0 {
		p.store.mu.Unlock()
		return idToken, nil
	}
	f := p.store.forgery[0]
	p.store.forgery = p.store.forgery[1:]
	p.store.mu.Unlock()
	claims, err := Claims(idToken)
	if err != nil {
		return "", err
	}
	if f.Edit != nil {
		f.Edit(claims)
	}
	return p.Sign(f.Key, "JWT", claims)
}

package csrf

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"log/slog"
	"net/http"
)

// Layer 2: the synchronizer token.
//
// Each session holds one secret: 32 bytes from crypto/rand, base64url, under
// the session key (default "secure.csrf"). It is created the first time a
// token is needed, and lives as long as the session (Rotate replaces it).
//
// Templates never see the secret itself. Every call to Token masks it with
// a fresh one-time pad: token = base64url(pad || pad XOR secret), 64 bytes,
// 86 characters. Because the bytes of the token change on every response,
// a compression side channel (BREACH) on pages that carry it learns nothing
// that repeats. Checking unmasks and compares with the stored secret in
// constant time.

const (
	secretLen = 32
	maskedLen = 2 * secretLen
	// TokenLen is the length of a token in characters.
	TokenLen = (maskedLen*8 + 5) / 6 // 86, unpadded base64url
)

var b64 = base64.RawURLEncoding.Strict()

// mask returns a fresh token for secret.
func mask(secret *[secretLen]byte) string {
	var buf [maskedLen]byte
	_, _ = rand.Read(buf[:secretLen]) // never fails (Go 1.24+)
	for i := range secretLen {
		buf[secretLen+i] = buf[i] ^ secret[i]
	}
	return base64.RawURLEncoding.EncodeToString(buf[:])
}

// unmask decodes a token into the secret it was made from. Anything that
// is not exactly a canonical 86-character base64url token is rejected.
func unmask(tok string) (secret [secretLen]byte, ok bool) {
	if len(tok) != TokenLen {
		return secret, false
	}
	var buf [maskedLen + 3]byte // room for the decoder's last quantum
	n, err := b64.Decode(buf[:], []byte(tok))
	if err != nil || n != maskedLen {
		return secret, false
	}
	for i := range secretLen {
		secret[i] = buf[i] ^ buf[secretLen+i]
	}
	return secret, true
}

// verify reports whether tok is a masking of secret. The comparison takes
// the same time wherever the first differing byte is.
func verify(secret *[secretLen]byte, tok string) bool {
	got, ok := unmask(tok)
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare(got[:], secret[:]) == 1
}

// loadSecret reads the session's secret; false if absent or corrupt.
func (p *Protection) loadSecret(s Store) (secret [secretLen]byte, ok bool) {
	v := s.Get(p.key)
	if len(v) != (secretLen*8+5)/6 {
		return secret, false
	}
	var buf [secretLen + 3]byte
	n, err := b64.Decode(buf[:], []byte(v))
	if err != nil || n != secretLen {
		return secret, false
	}
	copy(secret[:], buf[:secretLen])
	return secret, true
}

// newSecret stores a fresh secret in s and reads it back: a session that
// drops the key (the secure partition over plain HTTP) yields false.
func (p *Protection) newSecret(s Store) (secret [secretLen]byte, ok bool) {
	_, _ = rand.Read(secret[:])
	enc := base64.RawURLEncoding.EncodeToString(secret[:])
	s.Set(p.key, enc)
	if s.Get(p.key) != enc {
		slog.Warn("csrf: the session did not keep the token secret; " +
			"over plain HTTP a key under \"secure.\" is invisible, configure SessionKey outside the secure partition for HTTP forms")
		return secret, false
	}
	return secret, true
}

// checkToken is layer 2 for an unsafe request.
func (p *Protection) checkToken(r *http.Request) error {
	s := p.store(r)
	if s == nil {
		return ErrNoSession
	}
	tok := r.Header.Get(p.header)
	if tok == "" {
		// PostFormValue reads the body only, never the URL query: tokens
		// in URLs leak through logs and Referer.
		tok = r.PostFormValue(p.field)
	}
	if tok == "" {
		return ErrTokenMissing
	}
	secret, ok := p.loadSecret(s)
	if !ok {
		return fmt.Errorf("%w: the session has no token secret (form older than the session?)", ErrTokenInvalid)
	}
	if !verify(&secret, tok) {
		return fmt.Errorf("%w: does not match this session", ErrTokenInvalid)
	}
	return nil
}

// Token returns a fresh masked token for r's session, creating the
// session's secret if needed; "" if the token layer is off or r has no
// session. Every call returns a different string; all of them verify until
// the secret is rotated or the session ends.
func (p *Protection) Token(r *http.Request) string {
	s := p.store(r)
	if s == nil {
		return ""
	}
	secret, ok := p.loadSecret(s)
	if !ok {
		if secret, ok = p.newSecret(s); !ok {
			return ""
		}
	}
	return mask(&secret)
}

// Rotate replaces the session's secret, so every token handed out before
// is refused. Call it when the privilege of the session changes (login,
// logout), beside the session ID regeneration. No-op without a session.
func (p *Protection) Rotate(r *http.Request) {
	if s := p.store(r); s != nil {
		p.newSecret(s)
	}
}

// Token returns a fresh masked token for a request that passed through a
// [Protection.Handler]; "" otherwise, and an unsafe request sent with ""
// is refused, so a missing wrapper fails closed.
func Token(r *http.Request) string {
	p := fromContext(r)
	if p == nil {
		slog.Warn("csrf.Token: request did not pass through csrf.Protection.Handler")
		return ""
	}
	return p.Token(r)
}

// TemplateField returns a hidden input carrying a fresh token, for use in
// forms: <input type="hidden" name="csrf_token" value="...">.
func TemplateField(r *http.Request) template.HTML {
	p := fromContext(r)
	name := DefaultFieldName
	if p != nil && p.field != "" {
		name = p.field
	}
	return template.HTML(`<input type="hidden" name="` + html.EscapeString(name) +
		`" value="` + html.EscapeString(Token(r)) + `">`) // both parts escaped
}

// FuncMap returns template functions "csrfToken" ([Token]) and "csrfField"
// ([TemplateField]). Both take the request: parse templates once with
// Funcs(csrf.FuncMap()) and write {{ csrfField .Request }} in forms.
func FuncMap() template.FuncMap {
	return template.FuncMap{
		"csrfToken": Token,
		"csrfField": TemplateField,
	}
}

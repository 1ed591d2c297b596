// Package migrate moves users from Apache: a cookie made by
// mod_session_crypto is accepted once and re-issued as a sessiond session.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/modcrypto"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

// With a site's modcrypto block set, a cookie made by
// mod_session_crypto is accepted once and re-issued as a sessiond session,
// so a site moves behind sessiond without logging anyone out. The Apache
// cookie is expired on the same response; its digest is claimed in the
// gateway's State (kept by the store), so a copy replayed later — after a
// restart, or at another gateway on the same store — is refused.
//
// mod_auth_form keeps "<AuthName>-user", "<AuthName>-pw" (the password in
// clear) and "<AuthName>-site" in the session. None of them is forwarded:
// no key ending in "-pw" (or named "pw") ever reaches a backend. The user
// is signed in only over HTTPS and only if the site's users file holds it
// (a cookie naming anyone else signs in nobody); both outcomes are audited.

// maxApacheReplay bounds how long a migrated cookie without an expiry
// (SessionMaxAge 0) is remembered.
const maxApacheReplay = 400 * 24 * time.Hour

// authFormKeys sorts a migrated table: the user (the key "<AuthName>-user",
// or, without an AuthName, the single key ending in "-user" next to a
// "-pw" or "-site" key) and whether a key belongs to mod_auth_form and is
// never forwarded.
type authFormKeys struct {
	name string // AuthName; "" matches any
}

func (a authFormKeys) userKey(vals map[string]string) (key string, ambiguous bool) {
	if a.name != "" {
		if _, ok := vals[a.name+"-user"]; ok {
			return a.name + "-user", false
		}
		return "", false
	}
	for k := range vals {
		prefix, ok := strings.CutSuffix(k, "-user")
		if !ok {
			continue
		}
		_, pw := vals[prefix+"-pw"]
		_, site := vals[prefix+"-site"]
		if !pw && !site {
			continue // an application's own key, not mod_auth_form's
		}
		if key != "" {
			return "", true // two realms: which user? neither
		}
		key = k
	}
	return key, false
}

// hidden reports whether k is mod_auth_form's, of any AuthName (a
// "*-pw" key, or a "*-user"/"*-site" key beside a key of the same prefix),
// or a password: never forwarded.
func (a authFormKeys) hidden(k string, vals map[string]string) bool {
	if k == "pw" || strings.HasSuffix(k, "-pw") {
		return true
	}
	for _, suffix := range []string{"-user", "-site"} {
		prefix, ok := strings.CutSuffix(k, suffix)
		if !ok {
			continue
		}
		if a.name != "" && prefix == a.name {
			return true
		}
		for _, sib := range []string{"-user", "-pw", "-site"} {
			if _, ok := vals[prefix+sib]; ok && sib != suffix {
				return true
			}
		}
	}
	return false
}

// Claimer records one-time claims (the gateway's State).
type Claimer interface {
	Claim(ctx context.Context, key string, until time.Time) (first bool, err error)
}

// Config is what a migrator needs from its site.
type Config struct {
	ModCrypto *config.ModCrypto
	Claims    Claimer
	// Directory is the site's login method with a users file (nil: none).
	Directory func() login.Directory
	// Reserved reports keys a backend may not set: never migrated.
	Reserved func(key string) bool
	// MarkAuth records how a migrated user was signed in.
	MarkAuth func(sess *session.Session, via string, proven bool)
	IsSecure func(*http.Request) bool
	Audit    func(*http.Request, session.Event)
	Logger   *slog.Logger
}

// Migrator imports a site's Apache sessions.
type Migrator struct {
	c       Config
	decoder *modcrypto.Decoder
}

// New reads the Apache passphrase file the site names.
func New(c Config) (*Migrator, error) {
	pass, err := modcrypto.ReadPassphraseFile(c.ModCrypto.PassphraseFile)
	if err != nil {
		return nil, fmt.Errorf("modcrypto: %w", err)
	}
	d, err := modcrypto.New(pass, modcrypto.Options{Cipher: c.ModCrypto.Cipher})
	if err != nil {
		return nil, err
	}
	return &Migrator{c: c, decoder: d}, nil
}

// Serve migrates r's Apache cookie, if any, into the new session.
func (s *Migrator) Serve(w http.ResponseWriter, r *http.Request) {
	name := s.c.ModCrypto.CookieName
	c, err := r.Cookie(name)
	if err != nil {
		return
	}
	// Used at most once, whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.c.IsSecure(r)})
	sess := session.FromContext(r.Context())
	if sess == nil || !sess.IsNew() {
		return // a sessiond session exists: it wins
	}
	old, err := s.decoder.Decode(c.Value)
	if err != nil {
		s.c.Audit(r, session.Event{Type: "modcrypto.refused", Attrs: []slog.Attr{slog.String("err", err.Error())}})
		return
	}
	until := old.Expiry
	if until.IsZero() || until.After(time.Now().Add(maxApacheReplay)) {
		until = time.Now().Add(maxApacheReplay)
	}
	sum := sha256.Sum256([]byte(old.Digest))
	first, err := s.c.Claims.Claim(r.Context(), "modcrypto:"+hex.EncodeToString(sum[:]), until)
	if err != nil {
		s.c.Logger.Error("gateway: Apache session not migrated: the replay set is unavailable", "err", err)
		s.c.Audit(r, session.Event{Type: "modcrypto.refused", Attrs: []slog.Attr{slog.String("err", "replay set unavailable")}})
		return
	}
	if !first {
		s.c.Audit(r, session.Event{Type: "modcrypto.replay"})
		return
	}
	keys := authFormKeys{name: s.c.ModCrypto.AuthName}
	userKey, ambiguous := keys.userKey(old.Values)
	for k, v := range old.Values {
		if k == userKey || keys.hidden(k, old.Values) || s.c.Reserved(k) {
			continue
		}
		sess.Set(k, v)
	}
	user := old.Values[userKey]
	switch {
	case ambiguous:
		s.c.Audit(r, session.Event{Type: "modcrypto.login_refused", Attrs: []slog.Attr{slog.String("reason", "several AuthName users; set modcrypto.auth_name")}})
	case userKey == "":
	default:
		s.migrateUser(r, sess, user)
	}
	s.c.Audit(r, session.Event{Type: "modcrypto.migrated", User: sess.User()})
}

// migrateUser signs in the user an Apache session names, if the site's
// users file holds it.
func (s *Migrator) migrateUser(r *http.Request, sess *session.Session, user string) {
	refuse := func(reason string) {
		ev := session.Event{Type: "modcrypto.login_refused", Attrs: []slog.Attr{slog.String("reason", reason)}}
		if wire.ValidUser(user) {
			ev.User = user
		}
		s.c.Audit(r, ev)
	}
	dir := s.c.Directory()
	switch {
	case !wire.ValidUser(user):
		refuse("invalid user name")
	case dir == nil:
		refuse("the site has no users file")
	case !dir.HasUser(user):
		refuse("not in the users file")
	default:
		if err := sess.Login(user); err != nil {
			s.c.Logger.Info("gateway: migrated Apache user not signed in", "err", err)
			refuse("sign-in refused: " + err.Error())
			return
		}
		// Vouched for by the users file, but the password was proven to
		// Apache at some unknown time: no auth_at, so revoking other
		// sessions asks for it (reauth_after).
		s.c.MarkAuth(sess, dir.Name(), false)
		s.c.Audit(r, session.Event{Type: "modcrypto.login", User: user})
	}
}

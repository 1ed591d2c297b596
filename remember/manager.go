package remember

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sessiond/sessiond/session"
)

// Answers from the Manager besides the Store's; test with errors.Is.
var (
	// ErrNoCookie: the request carries no auto-login cookie. Nothing to do.
	ErrNoCookie = errors.New("remember: no auto-login cookie")
	// ErrInvalid: the cookie is malformed, duplicated, or its validator is
	// wrong for its selector (that key is then burned).
	ErrInvalid = errors.New("remember: invalid auto-login key")
	// ErrReused: a used key was presented again with its correct validator:
	// the key was copied. Every key of the user has been deleted and
	// OnReuse called.
	ErrReused = errors.New("remember: auto-login key reused; all of the user's keys revoked")
	// ErrRaced: another request used this key a moment earlier (see
	// Config.ReuseGrace). No login; the cookie is left as it is.
	ErrRaced = errors.New("remember: auto-login key used by a concurrent request")
)

// Defaults for zero Config fields.
const (
	DefaultCookieName = "__Host-remember"
	DefaultMaxAge     = 30 * 24 * time.Hour
)

// Config configures a Manager. Only Store is required.
type Config struct {
	// Store keeps the keys (NewMemoryStore, or remember/sqlstore).
	Store Store

	// CookieName defaults to "__Host-remember". A "__Host-" name requires
	// Path "/" and no Domain; "__Host-" and "__Secure-" names cannot be
	// combined with Insecure.
	CookieName string
	// Path defaults to "/". A narrower path keeps the key off requests
	// that cannot use it (the key should travel only when needed), but
	// Authenticate then runs only under that path.
	Path string
	// Domain is empty by default: the cookie goes to this host only.
	Domain string
	// MaxAge is the lifetime of each key and the cookie's Max-Age; default
	// 30 days, at least one second. Every use issues a key with a fresh
	// MaxAge.
	MaxAge time.Duration
	// Insecure drops the Secure attribute, for plain-HTTP development only.
	Insecure bool

	// ReuseGrace, if positive, answers a used key presented again within
	// this time of its use with ErrRaced instead of the theft response
	// (a browser restoring many tabs sends one old cookie many times). It
	// never logs anyone in. Zero: every reuse is theft.
	ReuseGrace time.Duration

	// OnReuse is called with the user when a key is reused, after all of
	// the user's keys are deleted. Wire it to revoke every session of the
	// user — with package session:
	//	func(ctx context.Context, user string) error {
	//		_, err := sessions.RevokeUserSessions(ctx, user, "")
	//		return err
	//	}
	// Its error is returned along with ErrReused. It may be called more
	// than once for one theft when several requests detect it at once.
	OnReuse func(ctx context.Context, user string) error

	// Realm scopes the keys: a Manager issues keys in its realm, and a key
	// of another realm (another site on the same Store) is answered
	// ErrNotFound and left as it is — neither consumed nor burned, and
	// Forget leaves it too. Disable and DeleteUser delete the user's keys
	// in this realm only; the theft response likewise. Events name it.
	// Default "".
	Realm string

	// Owns, if set, reports whether a key of user in the Manager's realm
	// may be used here (a user that still exists). A key it refuses is
	// treated as another realm's. Nil: every key of the realm is this
	// Manager's.
	Owns func(user string) bool

	// Auditor receives remember.issued, remember.login, remember.reuse,
	// remember.mismatch and remember.disabled events; never a key.
	Auditor session.Auditor
	// TrustedProxies are the peers whose X-Forwarded-For is believed for
	// the events' client address, as in session.Config (session.ClientIP).
	// Empty: the connection's peer is the client.
	TrustedProxies []netip.Prefix

	// Now is the clock; nil means time.Now. For tests.
	Now func() time.Time
}

// Manager issues and checks auto-login keys. Build it with New; it is safe
// for concurrent use.
type Manager struct {
	cfg Config
}

// New validates cfg, fills in defaults and returns a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("remember: Config.Store is required")
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	name := cfg.CookieName
	if err := (&http.Cookie{Name: name, Value: "x", Domain: cfg.Domain}).Valid(); err != nil {
		return nil, fmt.Errorf("remember: cookie %q: %w", name, err)
	}
	switch {
	case !strings.HasPrefix(cfg.Path, "/") || strings.ContainsAny(cfg.Path, ";\r\n"):
		return nil, fmt.Errorf("remember: cookie path %q must start with / and hold no ; or newline", cfg.Path)
	case strings.HasPrefix(name, "__Host-") && (cfg.Path != "/" || cfg.Domain != ""):
		return nil, fmt.Errorf("remember: a __Host- cookie needs Path \"/\" and no Domain (got Path %q, Domain %q)", cfg.Path, cfg.Domain)
	case cfg.Insecure && (strings.HasPrefix(name, "__Host-") || strings.HasPrefix(name, "__Secure-")):
		return nil, fmt.Errorf("remember: cookie name %q requires Secure; pick another name with Insecure", name)
	case cfg.MaxAge < time.Second:
		return nil, fmt.Errorf("remember: MaxAge %v is below one second", cfg.MaxAge)
	case cfg.ReuseGrace < 0 || cfg.ReuseGrace >= cfg.MaxAge:
		return nil, fmt.Errorf("remember: ReuseGrace %v must be between 0 and MaxAge", cfg.ReuseGrace)
	}
	return &Manager{cfg: cfg}, nil
}

// Issue creates a key for user and sets its cookie: call it on a login
// where the user asked to be remembered, after the session is regenerated.
// A still valid key of the same user in the request's cookie is deleted,
// so logging in again on one browser does not pile up keys.
func (m *Manager) Issue(w http.ResponseWriter, r *http.Request, user string) error {
	if user == "" {
		return errors.New("remember: Issue needs a user")
	}
	ctx := r.Context()
	if old, ok := m.cookieKey(r); ok {
		if rec, err := m.cfg.Store.Lookup(ctx, old.selector); err == nil && rec.Realm == m.cfg.Realm && rec.User == user && old.matches(rec.Hash) {
			if err := m.cfg.Store.Delete(ctx, old.selector); err != nil {
				slog.WarnContext(ctx, "remember: could not delete the replaced key", "err", err)
			}
		}
	}
	k, err := m.create(ctx, user, func(rec Record) error { return m.cfg.Store.Create(ctx, rec) })
	if err != nil {
		return err
	}
	m.setCookie(w, k.value(), int(m.cfg.MaxAge/time.Second))
	m.audit(r, "remember.issued", user)
	return nil
}

// create draws a key for user and stores it with put, drawing again on the
// (2^-128) chance of a selector collision.
func (m *Manager) create(ctx context.Context, user string, put func(Record) error) (key, error) {
	for range 3 {
		k := newKey()
		now := m.cfg.Now()
		err := put(Record{Selector: k.selector, Hash: k.hash(), Realm: m.cfg.Realm, User: user, Created: now, Expires: now.Add(m.cfg.MaxAge)})
		if !errors.Is(err, ErrCollision) {
			if err != nil {
				return key{}, fmt.Errorf("remember: storing a key: %w", err)
			}
			return k, nil
		}
	}
	return key{}, fmt.Errorf("remember: storing a key: %w", ErrCollision)
}

// Authenticate checks the request's auto-login cookie. On success it
// returns the user, has consumed the key and has set the cookie to a new
// key; the caller then logs the user into the session (regenerating its
// ID). Call it only for requests without an authenticated session. Errors:
// ErrNoCookie, ErrInvalid, ErrNotFound, ErrReused, ErrRaced (see the package
// documentation for what each does to the cookie and the store), or a store
// failure, after which the cookie is kept.
func (m *Manager) Authenticate(w http.ResponseWriter, r *http.Request) (string, error) {
	ctx := r.Context()
	cookies := r.CookiesNamed(m.cfg.CookieName)
	switch {
	case len(cookies) == 0:
		return "", ErrNoCookie
	case len(cookies) > 1:
		// A tossed second cookie (from a sibling host or a narrower path):
		// resolving it either way could log the victim into someone else's
		// account.
		m.clearCookie(w)
		return "", fmt.Errorf("%w: %d cookies named %s", ErrInvalid, len(cookies), m.cfg.CookieName)
	}
	k, ok := parseKey(cookies[0].Value)
	if !ok {
		m.clearCookie(w)
		return "", fmt.Errorf("%w: malformed cookie value", ErrInvalid)
	}
	rec, err := m.cfg.Store.Lookup(ctx, k.selector)
	if errors.Is(err, ErrNotFound) {
		m.clearCookie(w)
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("remember: looking up the key: %w", err)
	}
	if !m.owns(rec) {
		m.clearCookie(w)
		return "", fmt.Errorf("%w: the key is not this Manager's", ErrNotFound)
	}
	now := m.cfg.Now()
	if !now.Before(rec.Expires) {
		m.clearCookie(w)
		return "", fmt.Errorf("%w: the key expired", ErrNotFound)
	}
	if !k.matches(rec.Hash) {
		return "", m.mismatch(w, r, rec)
	}
	if rec.Used() {
		if m.cfg.ReuseGrace > 0 && now.Sub(rec.UsedAt) < m.cfg.ReuseGrace {
			return "", fmt.Errorf("%w: within the reuse grace", ErrRaced)
		}
		return "", m.reuse(w, r, rec.User)
	}

	next, err := m.create(ctx, rec.User, func(n Record) error { return m.cfg.Store.Consume(ctx, k.selector, now, n) })
	switch {
	case errors.Is(err, ErrAlreadyUsed):
		return "", ErrRaced
	case errors.Is(err, ErrNotFound):
		// Deleted meanwhile (Disable, or a reuse elsewhere revoked it).
		m.clearCookie(w)
		return "", ErrNotFound
	case err != nil:
		return "", err
	}
	m.setCookie(w, next.value(), int(m.cfg.MaxAge/time.Second))
	m.audit(r, "remember.login", rec.User)
	return rec.User, nil
}

// reuse is the theft response.
func (m *Manager) reuse(w http.ResponseWriter, r *http.Request, user string) error {
	ctx := r.Context()
	m.clearCookie(w)
	n, delErr := m.cfg.Store.DeleteUser(ctx, m.cfg.Realm, user)
	m.audit(r, "remember.reuse", user, slog.Int("keys_revoked", n), slog.Bool("revoke_failed", delErr != nil))
	var hookErr error
	if m.cfg.OnReuse != nil {
		hookErr = m.cfg.OnReuse(ctx, user)
	}
	switch {
	case delErr != nil:
		return fmt.Errorf("%w; deleting the user's keys failed: %w", ErrReused, delErr)
	case hookErr != nil:
		return fmt.Errorf("%w; OnReuse failed: %w", ErrReused, hookErr)
	}
	return ErrReused
}

// mismatch burns a key presented with a wrong validator.
func (m *Manager) mismatch(w http.ResponseWriter, r *http.Request, rec Record) error {
	m.clearCookie(w)
	m.audit(r, "remember.mismatch", rec.User)
	if err := m.cfg.Store.Delete(r.Context(), rec.Selector); err != nil {
		return fmt.Errorf("%w: wrong validator (burning the key failed: %w)", ErrInvalid, err)
	}
	return fmt.Errorf("%w: wrong validator; the key is burned", ErrInvalid)
}

// Disable turns auto-login off for user: every key of the user, on every
// device, is deleted and this browser's cookie is cleared.
func (m *Manager) Disable(w http.ResponseWriter, r *http.Request, user string) error {
	m.clearCookie(w)
	n, err := m.cfg.Store.DeleteUser(r.Context(), m.cfg.Realm, user)
	if err != nil {
		return fmt.Errorf("remember: deleting the user's keys: %w", err)
	}
	m.audit(r, "remember.disabled", user, slog.Int("keys_revoked", n))
	return nil
}

// cookieKey parses the request's single auto-login cookie, if any.
func (m *Manager) cookieKey(r *http.Request) (key, bool) {
	cs := r.CookiesNamed(m.cfg.CookieName)
	if len(cs) != 1 {
		return key{}, false
	}
	return parseKey(cs[0].Value)
}

func (m *Manager) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     m.cfg.CookieName,
		Value:    value,
		Path:     m.cfg.Path,
		Domain:   m.cfg.Domain,
		MaxAge:   maxAge,
		Secure:   !m.cfg.Insecure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
}

func (m *Manager) clearCookie(w http.ResponseWriter) { m.setCookie(w, "", -1) }

func (m *Manager) audit(r *http.Request, typ, user string, attrs ...slog.Attr) {
	if m.cfg.Auditor == nil {
		return
	}
	if m.cfg.Realm != "" {
		attrs = append(attrs, slog.String("realm", m.cfg.Realm))
	}
	e := session.Event{Time: m.cfg.Now(), Type: typ, User: user, UserAgent: r.UserAgent(), Attrs: attrs}
	if ip := session.ClientIP(r, m.cfg.TrustedProxies); ip.IsValid() {
		e.IP = ip.String()
	}
	m.cfg.Auditor.Audit(r.Context(), e)
}

// Forget deletes this browser's key (the request's cookie, if its
// validator is right) and clears the cookie; the user's keys on other
// devices stay. Call it on logout and when a login leaves the box unticked.
func (m *Manager) Forget(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	k, ok := m.cookieKey(r)
	if len(r.CookiesNamed(m.cfg.CookieName)) > 0 {
		m.clearCookie(w)
	}
	if !ok {
		return nil
	}
	rec, err := m.cfg.Store.Lookup(ctx, k.selector)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remember: looking up the key: %w", err)
	}
	if !k.matches(rec.Hash) || !m.owns(rec) {
		return nil
	}
	if err := m.cfg.Store.Delete(ctx, k.selector); err != nil {
		return fmt.Errorf("remember: deleting the key: %w", err)
	}
	m.audit(r, "remember.forgotten", rec.User)
	return nil
}

func (m *Manager) owns(rec Record) bool {
	return rec.Realm == m.cfg.Realm && (m.cfg.Owns == nil || m.cfg.Owns(rec.User))
}

// DeleteUser deletes every key of user in the Manager's realm, on every
// device, and reports how many: call it when the user's sessions are
// revoked without a browser at hand (an administrator, a removed user).
func (m *Manager) DeleteUser(ctx context.Context, user string) (int, error) {
	n, err := m.cfg.Store.DeleteUser(ctx, m.cfg.Realm, user)
	if err != nil {
		return n, fmt.Errorf("remember: deleting the user's keys: %w", err)
	}
	return n, nil
}

// CookieName is the auto-login cookie's name.
func (m *Manager) CookieName() string { return m.cfg.CookieName }

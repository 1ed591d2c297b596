// Package cookie keeps the whole session in the browser: the
// record is sealed with XChaCha20-Poly1305 into the cookie value, so the
// server stores nothing and the client can neither read nor change it.
//
// The cookie value is unpadded base64url of a sealed blob (internal/seal)
// whose associated data is the cookie's name and the session's realm
// (session.Config.Realm): a value copied into a cookie of another name, or
// presented to a site of another realm, does not open. The record's Expires travels inside the
// seal and is checked on every Decode against Config.Now, so an old cookie
// replayed after its expiry is refused even if the browser kept it.
//
// Keys form a ring: the first key seals, every key opens. Put a new key
// first to rotate without logging anyone out; drop the old key once every
// cookie sealed with it has expired.
//
// Every invalid value — a flipped bit, truncation, extension, another
// cookie's name, expiry, an unknown key, garbage, an empty or oversized
// value, bytes that are not base64url — is the same session.ErrNotFound,
// so a response cannot tell an attacker which check failed. Only a value
// that opens and has not expired costs a revocation lookup: garbage never
// reaches the revocation store.
//
// A cookie cannot be taken back once issued. Logout and "revoke all my
// sessions" therefore need server-side state: Config.Revocations (a
// per-user "revoked before" time and a list of revoked Refs). Without it,
// Revoke and RevokeUser return errors.ErrUnsupported, CanRevoke is false and
// session.New refuses the codec: a logged-out cookie would stay valid until
// its Expires. Per-user revocation times are kept per realm.
//
// Which fields a cookie keeps: Ref, Data, User, Created, LastSeen, Saved,
// Rotated, SecureSeen, Expires, Version, Generation, Requests, IP and
// UserAgent. Not kept: ID, SecureID, Aliases and Sealed — a cookie session
// has no server-side IDs. Times keep millisecond precision.
//
// A Codec is safe for concurrent use.
package cookie

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/session"
)

// Limit is the most bytes a browser must keep for one cookie: its name,
// value and attributes together (RFC 6265, section 6.1). Encode refuses to
// go past it rather than have the browser drop the cookie silently.
const Limit = 4096

// DefaultAttributeReserve is what Encode reserves, by default, for the
// Set-Cookie attributes within Limit: "; Path=/; Domain=…; Expires=…;
// Max-Age=…; Secure; HttpOnly; SameSite=Lax; Partitioned" is about 130
// bytes plus the domain and path.
const DefaultAttributeReserve = 256

// Purpose is the label the ring's keys are derived under: a cookie never
// opens as a store/sealed blob or the other way round, even if an operator
// uses one key for both.
const Purpose = "sessiond cookie v1"

// revokeMargin is added to how long a Ref stays revoked, for requests that
// were in flight when it was revoked.
const revokeMargin = time.Minute

var b64 = base64.RawURLEncoding.Strict()

// Config configures a Codec.
type Config struct {
	// Keys are 32-byte keys, current key first: the first seals, all open.
	// ParseKeys and ReadKeyFile read them from text. Required.
	Keys [][]byte
	// Now is the clock Decode checks expiry against. Nil means time.Now.
	Now func() time.Time
	// Revocations, if set, is consulted on every Decode and written by
	// Revoke and RevokeUser. Nil: cookies cannot be revoked before they
	// expire.
	Revocations Revocations
	// AttributeReserve is how many bytes of Limit are kept for the cookie's
	// attributes. 0 means DefaultAttributeReserve; at most Limit-128, so
	// that a small session still fits.
	AttributeReserve int
	// Logger receives, at debug level, why a cookie was refused (never the
	// value or a key). Nil means slog.Default().
	Logger *slog.Logger
}

// Codec implements session.CookieCodec. It is immutable after New and safe
// for concurrent use (its Revocations must be too).
type Codec struct {
	ring    *seal.Ring
	now     func() time.Time
	rev     Revocations
	reserve int
	logger  *slog.Logger
}

var _ session.CookieCodec = (*Codec)(nil)

// New validates cfg and derives the keys (once; nothing is derived per
// cookie).
func New(cfg Config) (*Codec, error) {
	ring, err := seal.New(seal.Config{Purpose: Purpose, Keys: cfg.Keys})
	if err != nil {
		return nil, fmt.Errorf("cookie: %w", err)
	}
	c := &Codec{ring: ring, now: cfg.Now, rev: cfg.Revocations, reserve: cfg.AttributeReserve, logger: cfg.Logger}
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.reserve == 0 {
		c.reserve = DefaultAttributeReserve
	}
	if c.reserve < 0 || c.reserve > Limit-128 {
		return nil, fmt.Errorf("cookie: Config.AttributeReserve is %d; want 0 (default %d) up to %d", cfg.AttributeReserve, DefaultAttributeReserve, Limit-128)
	}
	return c, nil
}

// validName reports whether name is an RFC 6265 cookie name (an HTTP token).
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
			return false
		}
	}
	return true
}

// Encode implements session.CookieCodec: it seals rec as the value of the
// cookie called name. A Set-Cookie that would pass Limit (with the
// attribute reserve) is an error wrapping session.ErrTooLarge that names the
// sizes. Encode allocates twice: one buffer and the returned string.
func (c *Codec) Encode(ctx context.Context, name string, rec *session.Record) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("cookie: %q is not a valid cookie name", name)
	}
	if rec == nil || rec.Ref == "" {
		return "", errors.New("cookie: record is nil or has no Ref")
	}
	// One buffer: [name (associated data)][base64 output][prefix|plaintext|tag].
	// The sealed blob is written in place; base64 goes before it, so the
	// two never overlap.
	bound := plaintextBound(rec)
	// Refuse a session that cannot fit before allocating for it: every
	// varint of the bound takes at least one byte.
	if minLen := bound - 9*(maxVarint-1); c.setCookieLen(name, minLen) > Limit {
		return "", c.tooLarge(name, rec, minLen, "at least ")
	}
	b64Max := b64.EncodedLen(seal.SealedLen(bound))
	adLen := adLen(name, rec.Realm)
	buf := make([]byte, adLen+b64Max+seal.SealedLen(bound))
	ad := appendAD(buf[:0:adLen], name, rec.Realm)
	start := adLen + b64Max
	pt := appendRecord(buf[start+seal.Prefix:start+seal.Prefix], rec)
	if len(pt) > bound { // cannot happen; would mean pt left buf
		return "", fmt.Errorf("cookie: internal error: record encoding is %d bytes, bound %d", len(pt), bound)
	}
	if c.setCookieLen(name, len(pt)) > Limit {
		return "", c.tooLarge(name, rec, len(pt), "")
	}
	blob, err := c.ring.SealInPlace(buf[start:start+seal.Prefix+len(pt)], ad)
	if err != nil {
		return "", fmt.Errorf("cookie: %w", err)
	}
	out := buf[adLen : adLen+b64.EncodedLen(len(blob))]
	b64.Encode(out, blob)
	return string(out), nil
}

// setCookieLen is the size of the Set-Cookie for a plaintext of n bytes,
// with the attribute reserve.
func (c *Codec) setCookieLen(name string, n int) int {
	return len(name) + 1 + b64.EncodedLen(seal.SealedLen(n)) + c.reserve
}

func (c *Codec) tooLarge(name string, rec *session.Record, ptLen int, atLeast string) error {
	total, valueLen := c.setCookieLen(name, ptLen), b64.EncodedLen(seal.SealedLen(ptLen))
	var bigKey string
	var bigLen, dataLen int
	for k, v := range rec.Data {
		n := len(k) + len(v)
		dataLen += n
		if n > bigLen || n == bigLen && k < bigKey {
			bigKey, bigLen = k, n
		}
	}
	largest := ""
	if bigKey != "" || bigLen > 0 {
		largest = fmt.Sprintf(", the largest key is %q (%d bytes)", bigKey, bigLen)
	}
	return fmt.Errorf("cookie: the %q cookie would need a Set-Cookie of %s%d bytes "+
		"(name %d + value %s%d + %d reserved for attributes), over the %d-byte limit; session data is %d bytes%s: %w",
		name, atLeast, total, len(name), atLeast, valueLen, c.reserve, Limit, dataLen, largest, session.ErrTooLarge)
}

// Decode implements session.CookieCodec. Anything that is not a live,
// intact, unrevoked cookie of this codec under this name is
// session.ErrNotFound — the very same error whatever the reason. A
// revocation store that cannot answer is an error wrapping
// session.ErrUnavailable. The returned record is the caller's.
func (c *Codec) Decode(ctx context.Context, name, realm, value string) (*session.Record, error) {
	rec, reason := c.open(name, realm, value)
	if rec == nil {
		return nil, c.refuse(ctx, reason)
	}
	rec.Realm = realm
	if rec.ExpiredAt(c.now()) {
		return nil, c.refuse(ctx, "expired")
	}
	if c.rev == nil {
		return rec, nil
	}
	if rec.User != "" {
		before, err := c.rev.RevokedBefore(ctx, userKey(realm, rec.User))
		if err != nil {
			return nil, fmt.Errorf("%w: cookie: revocation store: %w", session.ErrUnavailable, err)
		}
		if !before.IsZero() && issued(rec).UnixMilli() < ceilMilli(before) {
			return nil, c.refuse(ctx, "issued before the user's revocation time")
		}
	}
	revoked, err := c.rev.RefRevoked(ctx, rec.Ref)
	if err != nil {
		return nil, fmt.Errorf("%w: cookie: revocation store: %w", session.ErrUnavailable, err)
	}
	if revoked {
		return nil, c.refuse(ctx, "session revoked")
	}
	return rec, nil
}

// open decodes and opens a value; on failure it returns a reason for the
// debug log.
func (c *Codec) open(name, realm, value string) (*session.Record, string) {
	switch {
	case !validName(name):
		return nil, "invalid cookie name"
	case len(value) == 0:
		return nil, "empty value"
	case len(name)+1+len(value) > Limit:
		return nil, "longer than any cookie this codec issues"
	case strings.IndexByte(value, '\n') >= 0 || strings.IndexByte(value, '\r') >= 0:
		// encoding/base64 skips line breaks even in strict mode: refuse
		// them, so that one cookie has exactly one spelling.
		return nil, "not base64url"
	}
	n := b64.DecodedLen(len(value))
	if n < seal.Overhead {
		return nil, "too short"
	}
	buf := make([]byte, n+adLen(name, realm))
	ad := appendAD(buf[n:n], name, realm)
	m, err := b64.Decode(buf[:n], []byte(value))
	if err != nil {
		return nil, "not base64url"
	}
	pt, err := c.ring.OpenInPlace(buf[:m:m], ad)
	if err != nil {
		if errors.Is(err, seal.ErrUnknownKey) {
			return nil, "sealed with a key that is not in the ring"
		}
		return nil, "does not open (tampered, truncated, or another cookie's or realm's value)"
	}
	rec, ok := parseRecord(string(pt))
	if !ok {
		return nil, "authentic but unreadable record format"
	}
	return rec, ""
}

// refuse logs why a cookie was refused and returns the one error for all
// refusals.
func (c *Codec) refuse(ctx context.Context, reason string) error {
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "session cookie refused", slog.String("reason", reason))
	}
	return session.ErrNotFound
}

// ceilMilli is t in Unix milliseconds, rounded up: a cookie keeps its times
// in whole milliseconds, so one issued in the same millisecond as a
// revocation cannot be told to be after it, and counts as before.
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// issued is when the record's current credential was issued: its creation
// or its last regeneration, whichever is later.
func issued(rec *session.Record) time.Time {
	if rec.Rotated.After(rec.Created) {
		return rec.Rotated
	}
	return rec.Created
}

// Revoke implements session.CookieCodec: every cookie of rec.Ref is refused
// from now on. The revocation is kept until no cookie of the Ref can still
// be alive: the later of rec.Expires and now plus the record's expiry window
// (rec.Expires − rec.LastSeen), plus a minute for requests in flight; for a
// record that never expires, forever.
func (c *Codec) Revoke(ctx context.Context, rec *session.Record) error {
	if c.rev == nil {
		return fmt.Errorf("cookie: Revoke needs Config.Revocations: %w", errors.ErrUnsupported)
	}
	if rec == nil || rec.Ref == "" {
		return errors.New("cookie: Revoke: record is nil or has no Ref")
	}
	var until time.Time
	if !rec.Expires.IsZero() {
		until = rec.Expires
		if w := rec.Expires.Sub(rec.LastSeen); !rec.LastSeen.IsZero() && w > 0 {
			if u := c.now().Add(w); u.After(until) {
				until = u
			}
		}
		until = until.Add(revokeMargin)
	}
	if err := c.rev.RevokeRef(ctx, rec.Ref, until); err != nil {
		return fmt.Errorf("%w: cookie: revoking a session: %w", session.ErrUnavailable, err)
	}
	return nil
}

// RevokeUser implements session.CookieCodec: every cookie of user in realm issued
// (created or last regenerated) before the given time is refused. The time
// only ever moves forward. A cookie keeps whole milliseconds, so one issued
// within the millisecond of before counts as issued before it: to keep the
// current session while revoking all others, issue its new cookie at least
// a millisecond after before.
func (c *Codec) RevokeUser(ctx context.Context, realm, user string, before time.Time) error {
	if c.rev == nil {
		return fmt.Errorf("cookie: RevokeUser needs Config.Revocations: %w", errors.ErrUnsupported)
	}
	if user == "" {
		return errors.New("cookie: RevokeUser: empty user")
	}
	if err := c.rev.SetRevokedBefore(ctx, userKey(realm, user), before); err != nil {
		return fmt.Errorf("%w: cookie: revoking a user's sessions: %w", session.ErrUnavailable, err)
	}
	return nil
}

// CanRevoke implements session.CookieCodec: true when the codec has
// Config.Revocations.
func (c *Codec) CanRevoke() bool { return c.rev != nil }

// Revocations returns the codec's revocation list (nil if none), for
// callers that keep other server-side marks beside it.
func (c *Codec) Revocations() Revocations { return c.rev }

// The associated data of a seal is the cookie name, then, for a realm other
// than the empty one (the form before realms), a NUL byte and the realm. A
// cookie name cannot hold a NUL, so no (name, realm) pair has another's
// associated data.
func adLen(name, realm string) int {
	if realm == "" {
		return len(name)
	}
	return len(name) + 1 + len(realm)
}

func appendAD(b []byte, name, realm string) []byte {
	b = append(b, name...)
	if realm != "" {
		b = append(b, 0)
		b = append(b, realm...)
	}
	return b
}

// userKey is the key of user's "revoked before" time in Revocations: the
// user name itself in the empty realm (the form before realms), else a NUL
// byte, the realm, a NUL byte and the user. A realm holds no NUL
// (session.Config refuses control characters) and session.Login refuses a
// user name starting with NUL, so keys of different realms never meet.
func userKey(realm, user string) string {
	if realm == "" {
		return user
	}
	return "\x00" + realm + "\x00" + user
}

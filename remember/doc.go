// Package remember implements auto-login ("remember me") with one-time keys.
//
// A session ID must never live long enough to serve as an auto-login
// credential. Instead, on login with "remember me" the application calls
// [Manager.Issue], which sets a separate long-lived cookie holding a key:
//
//	cookie value = base64url(selector) "." base64url(validator)
//
// The selector (16 random bytes) is the lookup key; the validator (32
// random bytes) is the secret. The store keeps the selector, the SHA-256 of
// the validator, the user, creation and expiry times and a used marker —
// never the validator, so a dump of the store cannot be turned into cookies.
//
// When a request has no authenticated session, the application calls
// [Manager.Authenticate]. A valid, unused key logs the user in once: it is
// marked used and a new key replaces it in the cookie, atomically, so every
// key works exactly once and two concurrent uses cannot both succeed.
//
// # Theft detection
//
// Used keys stay in the store, marked, until they expire. If a used key is
// presented again with its correct validator, two parties held the same key
// — the cookie was copied. The Manager cannot tell which of them is the
// legitimate user, so it revokes everything: all auto-login keys of that
// user are deleted, [Config.OnReuse] is called (wire it to revoke every
// session of the user), a "remember.reuse" event is audited, the cookie is
// cleared and [ErrReused] is returned. The legitimate user logs in again
// with a password; the thief is out.
//
// Decisions for the other cases, and why:
//
//   - Wrong validator for a live selector: the key is deleted ("burned"),
//     "remember.mismatch" is audited, the cookie cleared, [ErrInvalid]
//     returned. Nobody got in, and a cookie always carries both halves, so
//     the presenter holds only a selector (from a store dump or a guess).
//     Burning the key stops any guessing at once; revoking all the user's
//     sessions, as for reuse, would hand whoever reads a store dump a
//     switch to log every user out. Reuse detection likewise requires the
//     correct validator, for the same reason.
//   - Two requests racing with the same unused key (tabs restored at once):
//     exactly one wins; the loser gets [ErrRaced], no login, and its cookie
//     is left alone so the winner's new cookie survives. This is not
//     treated as theft: if the race was a thief's, whichever side lost
//     still holds the old, now used, key and triggers the reuse response on
//     its next visit. [Config.ReuseGrace] extends the same answer to a used
//     key presented shortly after its use.
//   - Unknown or expired key: [ErrNotFound], the cookie is cleared.
//   - Another realm's key on a shared store ([Config.Realm]), or one
//     [Config.Owns] refuses (a user who no longer exists): [ErrNotFound],
//     the cookie is cleared, the key is neither consumed nor burned.
//   - Malformed cookie: [ErrInvalid], the cookie is cleared, the store is
//     not queried.
//   - Store failure: the error is returned, the cookie is kept (a store
//     outage must not cost users their auto-login); answer 503.
//
// [Manager.Disable] lets the user turn auto-login off: every key of the
// user is deleted and the cookie cleared.
//
// The cookie defaults to __Host-remember; Secure; HttpOnly; SameSite=Lax;
// Path=/; Max-Age 30 days, so it is sent only over HTTPS, to this host, and
// never to scripts. In a mixed HTTP/HTTPS site auto-login therefore happens
// only over HTTPS, where the secure session partition is available.
//
// Store implementations: [NewMemoryStore] for one process and tests, and
// package remember/sqlstore for SQLite and PostgreSQL through database/sql.
// remember/storetest is the conformance suite every Store passes.
package remember

// Package session gives a net/http application web sessions with the
// security practices built in: wrap the handler with [Manager.Handler] and
// read the request's session with [FromContext].
//
// # Concepts
//
// A session is a table of string keys and values ([Session.Get],
// [Session.Set], [Session.Delete]; typed helpers such as [Session.Int] and
// [Session.JSON] sit on top), kept across requests in a [Store] on the
// server (memory, SQLite, PostgreSQL, Redis) or whole in an encrypted
// cookie (a [CookieCodec]). Nothing is decoded into code: no gob, no
// registered types.
//
// The browser holds only a session ID: 256 random bits in an HttpOnly,
// SameSite=Lax cookie (by default "__Host-sid", Secure). Stores keep a hash
// of it, never the ID. IDs come only from that cookie, never from URLs,
// forms or other headers, and an ID the server did not issue is never
// adopted (strict mode). Sessions are lazy: a request that stores nothing
// gets no cookie and costs no write.
//
// Each request records what its handler changed (a change set) and the
// Manager saves it when the response starts, merging it into the newest
// version of the record, so concurrent requests that change different
// keys both keep their changes. A request that changes nothing writes at
// most a "last seen" touch per [Config.TouchInterval]. The one exception:
// changes made by a request that loaded the session before a concurrent
// request signed it in or out (or changed its user) never reach the new
// identity; that request is answered 409 ([ErrIdentityChanged]).
//
// Privilege changes get a new ID: [Session.Login] regenerates the ID
// before it sets the user (no fixation), [Session.Logout] destroys the
// record on the server so a replayed ID is dead, and [Session.Regenerate]
// and periodic rotation ([Config.RotateEvery]) issue a new ID while the old
// one keeps working for a short grace window ([Config.Grace]). An old ID
// used after its grace window is a theft signal ([Config.TheftAction]).
//
// [Session.Ref] is a stable, random reference of the record, unrelated to
// any ID: safe to log, to show, and to name a session in
// [Manager.ListUserSessions] and [Manager.RevokeSession].
//
// # Transports
//
// By default ([HTTPSOnly]) sessions exist only over HTTPS. A handler that
// changes a session during a plain-HTTP request gets a 500 naming the fix
// ([ErrPlainHTTP]), logged once. For development, [Config.AllowHTTP] serves
// plain HTTP on a loopback listener (127.0.0.1, ::1) and nowhere else.
//
// [Mixed] mode keeps two IDs on one record, for sites that serve some
// pages over HTTP: an insecure ID ("sid") sent over HTTP and HTTPS, and a
// secure ID ("__Host-ssid") sent only over HTTPS. Over HTTP only the
// insecure partition is visible: keys under "secure." and the user are
// hidden, so a sniffed insecure ID is worth the cart, never the account.
// The first HTTPS request "steps up" (issues the secure ID and regenerates
// the insecure one, keeping the data); the first HTTP request after that
// "steps down" (regenerates the insecure ID); an insecure ID replayed over
// HTTPS on a record that already has a secure ID gets a "fork": a new
// record with a copy of the insecure data only. The secure package decides
// which paths belong to which transport.
//
// # Errors and events
//
// A store that is down gives the client a 503 ([ErrUnavailable]), never a
// silently new, empty session; [Config.ErrorHandler] shapes the answer.
// Security events (forks, theft signals, revocations, throttled clients)
// and the session lifecycle (created, rotated, expired) go to
// [Config.Auditor] as structured [Event]s; the default auditor logs the
// lifecycle at Debug, so an Info handler writes no line per visitor
// ([EventLevel]). Operational logs go to [Config.Logger] and never
// contain an ID.
package session

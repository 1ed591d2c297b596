package session

import (
	"errors"
	"net/http"
)

// Sentinel errors. Stores and the manager wrap them once with %w; callers test
// with errors.Is.
var (
	// ErrNotFound: no live record for that ID. A tampered, unknown or
	// expired ID is not-found, not a failure.
	ErrNotFound = errors.New("session: not found")
	// ErrConflict: Update's expected version is not the stored one.
	ErrConflict = errors.New("session: version conflict")
	// ErrCollision: Create (or Update) would reuse a record key or an ID
	// hash that another record holds.
	ErrCollision = errors.New("session: ID or key collision")
	// ErrUnavailable: the store cannot answer (down, timed out). Requests that
	// need the session get a 503, never a new empty session.
	ErrUnavailable = errors.New("session: store unavailable")
	// ErrTooLarge: the session does not fit its store (for example a cookie
	// store past 4096 bytes).
	ErrTooLarge = errors.New("session: too large")
	// ErrResponseStarted: the change needs a new cookie but the response
	// headers have already been written.
	ErrResponseStarted = errors.New("session: response already started; cookie cannot be sent")
	// ErrPlainHTTP: a handler changed a session of an HTTPS-only Manager
	// during a request that came over plain HTTP, where its Secure cookie
	// can be neither sent nor received. Serve over HTTPS, or set
	// Config.AllowHTTP for development on a loopback listener. The
	// middleware answers 500 and logs it at ERROR (once per Manager).
	ErrPlainHTTP = errors.New("session: changed over plain HTTP but this Manager is HTTPS-only; serve it over HTTPS (http.ListenAndServeTLS), or set session.Config{AllowHTTP: true} for development on a loopback listener")
	// ErrIdentityChanged: a concurrent request signed the session in or
	// out, or changed its user, after this request loaded it. What this
	// request changed was built on the old identity and is not saved: a
	// slow request started before a login never writes into the
	// signed-in session (the pre-change ID never sees the new
	// identity). No cookie is sent; the middleware answers 409 and audits
	// session.stale_write_refused. A concurrent login of the same user is
	// not refused (it joins the other login).
	ErrIdentityChanged = errors.New("session: signed in or out by a concurrent request; changes not saved")
	// ErrInvalidUser: Login was given a user name with a NUL byte (no
	// store, header or revocation key could carry it unambiguously).
	ErrInvalidUser = errors.New("session: invalid user name (contains a NUL byte)")
	// ErrNoManager: the request did not pass through a Manager's Handler.
	ErrNoManager = errors.New("session: no session in context (handler not wrapped by Manager.Handler)")
)

// ErrorStatus is the HTTP status and the user-facing message for an
// error the middleware hands its ErrorHandler: 429 throttled, 500 for
// ErrPlainHTTP (with the fix) and ErrTooLarge, 409 for
// ErrIdentityChanged, else 503 (the store cannot answer). The message is
// short plain text that reveals nothing internal; a custom ErrorHandler
// renders it in its own page.
func ErrorStatus(err error) (code int, msg string) {
	switch {
	case errors.Is(err, ErrThrottled):
		return http.StatusTooManyRequests, "Too many requests with unknown session IDs. Try again in a minute."
	case errors.Is(err, ErrPlainHTTP):
		return http.StatusInternalServerError, "This session needs HTTPS. " + ErrPlainHTTP.Error() + "."
	case errors.Is(err, ErrIdentityChanged):
		return http.StatusConflict, "You were signed in or out while this request ran, so its changes were not saved. Please reload the page and try again."
	case errors.Is(err, ErrTooLarge):
		return http.StatusInternalServerError, "The session is too large to be stored."
	default:
		return http.StatusServiceUnavailable, "The session service is temporarily unavailable. Please try again shortly."
	}
}

// ErrorHeaders sets the headers that go with ErrorStatus's answer: never
// cached, and Retry-After for the answers that pass (60 seconds when
// throttled, 5 when the store is down).
func ErrorHeaders(h http.Header, err error) {
	h.Set("Cache-Control", "no-store")
	switch code, _ := ErrorStatus(err); code {
	case http.StatusTooManyRequests:
		h.Set("Retry-After", "60")
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "5")
	}
}

package gateway

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

// siteHeaders is a site's protocol header names (wire.Headers, as the
// configuration gives them): wire's default for every empty name, and
// every name in canonical form.
func siteHeaders(h wire.Headers) wire.Headers {
	h = h.WithDefaults()
	for _, n := range []*string{&h.Session, &h.User, &h.Ref, &h.Secure, &h.CSRF, &h.CSRFField, &h.Info, &h.Email, &h.Groups, &h.Replace, &h.Action} {
		*n = textproto.CanonicalMIMEHeaderKey(*n)
	}
	return h
}

// request are the headers the gateway sets on forwarded requests; any
// client-supplied copy is dropped first.
func requestHeaders(h wire.Headers) []string {
	return []string{h.Session, h.User, h.Ref, h.Secure, h.CSRF, h.CSRFField, h.Info, h.Email, h.Groups, "Session"}
}

// response are the headers a backend sends to the gateway; they never
// reach the client.
func responseHeaders(h wire.Headers) []string { return []string{h.Replace, h.Action} }

// headerKey is how a backend may read a header name: CGI (and many
// application servers) map '-' and '_' to the same variable, and case
// never matters.
func headerKey(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// isProtocol reports whether name is, or could be taken for, a header of
// the gateway protocol: a configured name, "Session" (CGI's HTTP_SESSION),
// or anything starting with X-Session or X-Replace-Session, compared as
// headerKey. It runs for every header of every request and response, so
// ASCII names (all that HTTP allows) are compared without allocating.
func isProtocol(h wire.Headers, name string) bool {
	if !isASCII(name) {
		return isProtocolKey(h, headerKey(name))
	}
	if sameKey(name, "session") || hasKeyPrefix(name, "x-session") || hasKeyPrefix(name, "x-replace-session") {
		return true
	}
	for _, n := range [...]string{h.Session, h.User, h.Ref, h.Secure, h.CSRF, h.CSRFField, h.Email, h.Groups, h.Replace, h.Action} {
		// An ASCII name equal to n under foldKey makes n ASCII too; a
		// non-ASCII n (the configuration allows it) may still lower-case
		// to name (the Kelvin sign is a K), so it is compared as headerKey.
		if sameKey(name, n) || !isASCII(n) && headerKey(name) == headerKey(n) {
			return true
		}
	}
	return false
}

// isProtocolKey is isProtocol for a name already in headerKey form.
func isProtocolKey(h wire.Headers, k string) bool {
	if k == "session" || strings.HasPrefix(k, "x-session") || strings.HasPrefix(k, "x-replace-session") {
		return true
	}
	for _, n := range append(requestHeaders(h), responseHeaders(h)...) {
		if k == headerKey(n) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// sameKey reports headerKey(a) == headerKey(b) for ASCII a and b.
func sameKey(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldKey(a[i]) != foldKey(b[i]) {
			return false
		}
	}
	return true
}

// hasKeyPrefix reports strings.HasPrefix(headerKey(s), prefix) for ASCII
// s and a prefix in headerKey form.
func hasKeyPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && sameKey(s[:len(prefix)], prefix)
}

func foldKey(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}

// identityHeaders are headers that backends, frameworks and CGI take for
// the client's identity or transport, so a client may never send them,
// as headerKey. Every x-forwarded-* name is dropped too.
var identityHeaders = map[string]bool{
	"forwarded": true, "x-real-ip": true, "x-client-ip": true, "true-client-ip": true,
	"remote-user": true, "x-remote-user": true, "x-remote-addr": true,
	"x-auth-request-user": true, "x-auth-request-email": true,
	"x-original-url": true, "x-rewrite-url": true,
}

// transportHeaders are read by the session middleware when the gateway
// sits behind a trusted proxy (Session.TrustedProxies): kept until the
// request is forwarded, then dropped and set by the gateway itself.
var transportHeaders = map[string]bool{"forwarded": true, "x-forwarded-for": true, "x-forwarded-proto": true, "x-forwarded-host": true}

// stripSpoofed removes, from a client's request, every header a backend
// could take for the gateway's: protocol names and identity headers,
// compared as headerKey (X_Session_User is X-Session-User to CGI). The
// forwarding headers a trusted proxy sets stay until stripForward.
func stripSpoofed(h wire.Headers, hdr http.Header) {
	dropConnectionNamed(hdr)
	var buf [keyBufLen]byte
	for k := range hdr {
		hk := appendHeaderKey(buf[:0], k)
		if transportHeaders[string(hk)] {
			continue
		}
		if isProtocol(h, k) || identityHeaders[string(hk)] || bytes.HasPrefix(hk, xForwarded) {
			delete(hdr, k)
		}
	}
}

// keyBufLen is the stack buffer for a header name in headerKey form:
// longer names are rare and take an allocation.
const keyBufLen = 64

var xForwarded = []byte("x-forwarded-")

// appendHeaderKey appends headerKey(name) to dst: for the ASCII names
// that HTTP allows, without allocating when dst has room.
func appendHeaderKey(dst []byte, name string) []byte {
	if !isASCII(name) {
		return append(dst, headerKey(name)...)
	}
	for i := 0; i < len(name); i++ {
		dst = append(dst, foldKey(name[i]))
	}
	return dst
}

// dropConnectionNamed removes the headers a client's Connection header
// names (hop-by-hop: they end at the gateway) and every token of it but
// "upgrade", before the gateway adds its own headers: the proxy removes
// whatever Connection names, which must never be the gateway's
// X-Session* headers.
func dropConnectionNamed(hdr http.Header) {
	conn, ok := hdr["Connection"]
	if !ok {
		return
	}
	upgrade := false
	for _, v := range conn {
		for f := range strings.SplitSeq(v, ",") {
			f = textproto.TrimString(f)
			switch {
			case strings.EqualFold(f, "upgrade"):
				upgrade = true
			case f != "":
				delete(hdr, textproto.CanonicalMIMEHeaderKey(f))
			}
		}
	}
	if upgrade {
		hdr["Connection"] = []string{"Upgrade"}
	} else {
		delete(hdr, "Connection")
	}
}

// stripForward removes, just before a request goes to the backend, what
// stripSpoofed kept for the session middleware (the gateway sets its own
// X-Forwarded-For/-Host/-Proto on proxied requests) and, for CGI, every
// name with '_' (CGI cannot tell it from '-').
func stripForward(hdr http.Header, cgi bool) {
	var buf [keyBufLen]byte
	for k := range hdr {
		hk := appendHeaderKey(buf[:0], k)
		if transportHeaders[string(hk)] || bytes.HasPrefix(hk, xForwarded) || identityHeaders[string(hk)] || (cgi && strings.Contains(k, "_")) {
			delete(hdr, k)
		}
	}
}

// stripResponse removes the protocol headers (and trailers of those
// names) from a backend's response header: they never reach the client.
func stripResponse(h wire.Headers, hdr http.Header) {
	for k := range hdr {
		name := k
		if t, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			name = t
		}
		if isProtocol(h, name) {
			delete(hdr, k)
		}
	}
}

// internalPrefix marks keys the gateway keeps for itself (the CSRF
// secret, who signed the user in). Backends neither see nor set them.
const internalPrefix = login.InternalPrefix

// reservedKey reports whether a backend may not set or delete key:
// mod_session's "expiry" (expiry is never data here) and the gateway's
// internal keys. Identity is not a key at all: only the login action sets
// it.
func reservedKey(key string) bool {
	return key == "expiry" || strings.HasPrefix(key, internalPrefix) || strings.HasPrefix(key, "sessiond.")
}

// sessionHeaderValue is the data a backend sees: the visible partition,
// minus the gateway's internal keys (the CSRF secret, the event log).
func sessionHeaderValue(s *session.Session) string {
	vals := s.Values()
	for k := range vals {
		if strings.HasPrefix(k, internalPrefix) || strings.HasPrefix(k, "sessiond.") {
			delete(vals, k)
		}
	}
	return wire.EncodeValues(vals)
}

// backendUpdate is what a backend asked for in its response headers.
type backendUpdate struct {
	changes wire.Changes
	wire.Actions
}

// parseUpdate reads and validates the backend's response headers. Bad
// pieces are logged and skipped; the rest applies and nothing else of the
// session is lost.
func parseUpdate(hdr http.Header, h wire.Headers, maxBytes int, log *slog.Logger) backendUpdate {
	var u backendUpdate
	raw := hdr.Values(h.Replace)
	total := 0
	for _, v := range raw {
		total += len(v)
	}
	switch {
	case total > maxBytes:
		log.Warn("gateway: backend session update ignored: too large", "bytes", total, "limit", maxBytes)
	case total > 0:
		c, err := wire.DecodeChanges(strings.Join(raw, "&"))
		if err != nil {
			log.Warn("gateway: backend session update partly malformed; valid pairs applied", "err", err)
		}
		for k := range c.Set {
			if reservedKey(k) {
				delete(c.Set, k)
				log.Warn("gateway: backend tried to set a reserved session key; ignored", "key", k)
			}
		}
		c.Delete = slices.DeleteFunc(c.Delete, reservedKey)
		u.changes = c
	}
	var err error
	u.Actions, err = wire.ParseActions(hdr.Values(h.Action))
	if errs, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range errs.Unwrap() {
			if errors.Is(e, wire.ErrUnknownAction) {
				log.Warn("gateway: backend action ignored", "err", e)
			} else {
				log.Error("gateway: backend action refused", "err", e)
			}
		}
	}
	stripResponse(h, hdr)
	return u
}

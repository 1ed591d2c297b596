package session

import (
	"iter"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// A trusted proxy adds its value for X-Forwarded-For and
// X-Forwarded-Proto at the right (it appends, or it replaces the header),
// so whatever a client sent sits to the left of it. Both headers are read
// the same way, by forwardedHops, from the right.

// forwardedHops yields the comma-separated values of the header name,
// rightmost first (the last header line's last value first), trimmed.
func forwardedHops(h http.Header, name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		lines := h.Values(name)
		for i := len(lines) - 1; i >= 0; i-- {
			parts := strings.Split(lines[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				if !yield(strings.TrimSpace(parts[j])) {
					return
				}
			}
		}
	}
}

// peerOf is r's connection peer and whether it is a trusted proxy; the
// zero Addr if RemoteAddr is not an address.
func peerOf(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	peer = peer.Unmap()
	return peer, isTrusted(peer, trusted)
}

// clientIP is the request's client address. X-Forwarded-For is believed
// only when the peer is a trusted proxy, and then only the hops that are
// themselves trusted are skipped: the first untrusted address from the
// right is the client.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, ok := peerOf(r, trusted)
	if !ok {
		return peer
	}
	for hop := range forwardedHops(r.Header, "X-Forwarded-For") {
		a, err := netip.ParseAddr(hop)
		if err != nil {
			return peer // garbage in the chain: stop believing it
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

// TrustedPeer reports whether the connection peer a is one of the trusted
// proxies: the judgment ClientIP and IsSecureRequest make, for callers that
// judge a connection before any request (a PROXY protocol listener).
func TrustedPeer(a netip.Addr, trusted []netip.Prefix) bool { return isTrusted(a.Unmap(), trusted) }

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is r's client address: the peer, or — when the peer is one of
// the trusted proxies — the first untrusted address of X-Forwarded-For
// counted from the right. The zero Addr if RemoteAddr is not an address.
// This is the one copy: the gateway's login limits, audit records and
// access log use it too, and so do package csrf's and package remember's
// audit events (their TrustedProxies).
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr { return clientIP(r, trusted) }

// FromTrustedProxy reports whether r's connection peer is one of the
// trusted proxies: only then may headers it set (X-Forwarded-*) be believed.
func FromTrustedProxy(r *http.Request, trusted []netip.Prefix) bool {
	_, ok := peerOf(r, trusted)
	return ok
}

// IsSecureRequest reports whether r reached us over HTTPS: directly over
// TLS, or from a trusted proxy whose X-Forwarded-Proto says https — the
// rightmost value, the one that proxy set, as for X-Forwarded-For.
func IsSecureRequest(r *http.Request, trusted []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	if len(trusted) == 0 {
		return false // no proxy to believe: nothing to parse
	}
	if _, ok := peerOf(r, trusted); !ok {
		return false
	}
	for proto := range forwardedHops(r.Header, "X-Forwarded-Proto") {
		return strings.EqualFold(proto, "https")
	}
	return false
}

// IsSecure is IsSecureRequest with the Manager's TrustedProxies.
func (m *Manager) IsSecure(r *http.Request) bool { return IsSecureRequest(r, m.cfg.TrustedProxies) }

// ClientIP is ClientIP with the Manager's TrustedProxies.
func (m *Manager) ClientIP(r *http.Request) netip.Addr { return clientIP(r, m.cfg.TrustedProxies) }

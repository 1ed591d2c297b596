package session

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the request's client address. X-Forwarded-For is believed
// only when the peer is a trusted proxy, and then only the hops that are
// themselves trusted are skipped: the first untrusted address from the
// right is the client.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer // garbage in the chain: stop believing it
			}
			a = a.Unmap()
			if !isTrusted(a, trusted) {
				return a
			}
			peer = a
		}
	}
	return peer
}

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
// access log use it too.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr { return clientIP(r, trusted) }

// IsSecureRequest reports whether r reached us over HTTPS: directly over
// TLS, or from a trusted proxy that says X-Forwarded-Proto: https.
func IsSecureRequest(r *http.Request, trusted []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	if len(trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer.Unmap(), trusted) {
		return false
	}
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

// IsSecure is IsSecureRequest with the Manager's TrustedProxies.
func (m *Manager) IsSecure(r *http.Request) bool { return IsSecureRequest(r, m.cfg.TrustedProxies) }

// ClientIP is ClientIP with the Manager's TrustedProxies.
func (m *Manager) ClientIP(r *http.Request) netip.Addr { return clientIP(r, m.cfg.TrustedProxies) }

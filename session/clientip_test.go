package session_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/sessiond/sessiond/session"
)

// TestForwardedHeadersRightmost: behind a trusted proxy, X-Forwarded-For
// and X-Forwarded-Proto are both read from the right, where the proxy put
// its value: whatever a client wrote to the left of it (a spoofed address,
// a spoofed "https") is ignored, and an untrusted peer's headers are
// ignored altogether.
func TestForwardedHeadersRightmost(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name       string
		peer       string
		xff, xfp   []string // header lines as sent
		wantIP     string
		wantSecure bool
	}{
		{"untrusted peer: both ignored", "203.0.113.9:1234", []string{"198.51.100.7"}, []string{"https"}, "203.0.113.9", false},
		{"trusted peer, one value each", "10.0.0.1:1234", []string{"198.51.100.7"}, []string{"https"}, "198.51.100.7", true},
		{"trusted peer, no headers", "10.0.0.1:1234", nil, nil, "10.0.0.1", false},
		{"spoofed left-most address", "10.0.0.1:1234", []string{"6.6.6.6, 198.51.100.7"}, []string{"http"}, "198.51.100.7", false},
		{"spoofed address on its own line", "10.0.0.1:1234", []string{"6.6.6.6", "198.51.100.7"}, nil, "198.51.100.7", false},
		{"spoofed https, proxy appended http", "10.0.0.1:1234", []string{"198.51.100.7"}, []string{"https, http"}, "198.51.100.7", false},
		{"spoofed https line, proxy added http", "10.0.0.1:1234", []string{"198.51.100.7"}, []string{"https", "http"}, "198.51.100.7", false},
		{"spoofed http, proxy appended https", "10.0.0.1:1234", []string{"198.51.100.7"}, []string{"http, https"}, "198.51.100.7", true},
		{"proxy value in capitals, spaced", "10.0.0.1:1234", nil, []string{" HTTPS "}, "10.0.0.1", true},
		{"empty rightmost proto", "10.0.0.1:1234", nil, []string{"https,"}, "10.0.0.1", false},
		{"chain of trusted proxies", "10.0.0.1:1234", []string{"6.6.6.6, 198.51.100.7, 10.0.0.2"}, []string{"https"}, "198.51.100.7", true},
		{"garbage in the chain", "10.0.0.1:1234", []string{"198.51.100.7, nonsense, 10.0.0.2"}, nil, "10.0.0.2", false},
		{"IPv4-mapped peer", "[::ffff:10.0.0.1]:1234", []string{"6.6.6.6,198.51.100.7"}, []string{"https"}, "198.51.100.7", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://example.test/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tt.xfp {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			if got := session.ClientIP(r, trusted); got.String() != tt.wantIP {
				t.Errorf("ClientIP = %v, want %v", got, tt.wantIP)
			}
			if got := session.IsSecureRequest(r, trusted); got != tt.wantSecure {
				t.Errorf("IsSecureRequest = %v, want %v", got, tt.wantSecure)
			}
		})
	}
}

// TestForwardedProtoWithoutTrustedProxies: with no trusted proxy, a
// client's X-Forwarded-Proto never makes a plain-HTTP request secure,
// whatever its peer; TLS always does.
func TestForwardedProtoWithoutTrustedProxies(t *testing.T) {
	for _, peer := range []string{"127.0.0.1:1234", "10.0.0.1:1234", "[::1]:1234", "not an address"} {
		r := httptest.NewRequest("GET", "http://app.test/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-Proto", "https")
		if session.IsSecureRequest(r, nil) {
			t.Errorf("peer %q: X-Forwarded-Proto https believed with no trusted proxy", peer)
		}
		r.TLS = &tls.ConnectionState{}
		if !session.IsSecureRequest(r, nil) {
			t.Errorf("peer %q: a TLS request is not secure", peer)
		}
	}
}

package csrf_test

import (
	"errors"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/sessiond/sessiond/csrf"
)

// TestCheckWebSocket: cross-site WebSocket hijacking attempts are refused;
// the site's own pages, and origins it trusts, may open WebSockets. A
// handshake that came over HTTPS (TLS, or a trusted proxy's
// X-Forwarded-Proto) is refused from a plain-HTTP page of the same host —
// in mixed mode that page is whatever the network made it, and the
// handshake would carry the secure cookie — even when that HTTP origin is
// trusted for forms (the gateway trusts its own HTTP origins).
func TestCheckWebSocket(t *testing.T) {
	p, err := csrf.New(csrf.Config{
		TrustedOrigins: []string{"https://app.example.net", "http://shop.example", "http://legacy.example.net"},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		upgrade, origin string
		host            string
		scheme          string // of the request: "https" is TLS to this server
		peer, xfp       string // the connection's peer and its X-Forwarded-Proto
		ok              bool
	}{
		{"not a WebSocket", "", "https://evil.example", "shop.example", "https", "", "", true},
		{"another upgrade", "h2c", "https://evil.example", "shop.example", "https", "", "", true},
		{"same host", "websocket", "https://shop.example", "shop.example", "https", "", "", true},
		{"same host, case and upgrade spelling", "WebSocket", "https://SHOP.example", "shop.example", "https", "", "", true},
		{"same host and port", "websocket", "https://shop.example:8443", "shop.example:8443", "https", "", "", true},
		{"trusted origin", "websocket", "https://app.example.net", "shop.example", "https", "", "", true},
		{"plain-HTTP page, plain-HTTP handshake", "websocket", "http://shop.example", "shop.example", "http", "", "", true},
		{"HTTPS page, plain-HTTP handshake", "websocket", "https://shop.example", "shop.example", "http", "", "", true},
		{"trusted HTTP origin, plain-HTTP handshake", "websocket", "http://legacy.example.net", "shop.example", "http", "", "", true},
		{"trusted proxy says http, plain-HTTP page", "websocket", "http://shop.example", "shop.example", "http", "10.0.0.1:999", "http", true},
		{"untrusted peer claims https, plain-HTTP page", "websocket", "http://shop.example", "shop.example", "http", "203.0.113.9:999", "https", true},
		{"another site", "websocket", "https://evil.example", "shop.example", "https", "", "", false},
		{"another port", "websocket", "https://shop.example:9999", "shop.example:8443", "https", "", "", false},
		{"suffix of the host", "websocket", "https://shop.example.evil", "shop.example", "https", "", "", false},
		{"trusted origin with a path", "websocket", "https://app.example.net/x", "shop.example", "https", "", "", false},
		{"no Origin", "websocket", "", "shop.example", "https", "", "", false},
		{"null Origin (sandboxed page)", "websocket", "null", "shop.example", "https", "", "", false},
		{"unparsable Origin", "websocket", "https://%zz", "shop.example", "https", "", "", false},
		{"plain-HTTP page of the same host over TLS", "websocket", "http://shop.example", "shop.example", "https", "", "", false},
		{"plain-HTTP page, same host and port, over TLS", "websocket", "http://shop.example:8443", "shop.example:8443", "https", "", "", false},
		{"trusted HTTP origin over TLS", "websocket", "http://legacy.example.net", "shop.example", "https", "", "", false},
		{"plain-HTTP page, trusted proxy says https", "websocket", "http://shop.example", "shop.example", "http", "10.0.0.1:999", "https", false},
		{"plain-HTTP page, proxy's https after a spoofed http", "websocket", "http://shop.example", "shop.example", "http", "10.0.0.1:999", "http, https", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.scheme+"://"+tt.host+"/ws", nil)
			r.Host = tt.host
			if tt.peer != "" {
				r.RemoteAddr = tt.peer
			}
			if tt.xfp != "" {
				r.Header.Set("X-Forwarded-Proto", tt.xfp)
			}
			if tt.upgrade != "" {
				r.Header.Set("Connection", "Upgrade")
				r.Header.Set("Upgrade", tt.upgrade)
			}
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			err := p.CheckWebSocket(r)
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok && !errors.Is(err, csrf.ErrCrossOrigin) {
				t.Fatalf("CheckWebSocket = %v, want ErrCrossOrigin", err)
			}
		})
	}
	var zero csrf.Protection
	r := httptest.NewRequest("GET", "https://shop.example/ws", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Origin", "https://evil.example")
	if err := zero.CheckWebSocket(r); !errors.Is(err, csrf.ErrCrossOrigin) {
		t.Fatalf("zero Protection let a cross-site handshake through: %v", err)
	}
}

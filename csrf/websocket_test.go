package csrf_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/sessiond/sessiond/csrf"
)

// TestCheckWebSocket: cross-site WebSocket hijacking attempts are refused;
// the site's own pages, and origins it trusts, may open WebSockets.
func TestCheckWebSocket(t *testing.T) {
	p, err := csrf.New(csrf.Config{TrustedOrigins: []string{"https://app.example.net"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		upgrade, origin string
		host            string
		ok              bool
	}{
		{"not a WebSocket", "", "https://evil.example", "shop.example", true},
		{"another upgrade", "h2c", "https://evil.example", "shop.example", true},
		{"same host", "websocket", "https://shop.example", "shop.example", true},
		{"same host, other scheme", "websocket", "http://shop.example", "shop.example", true},
		{"same host, case and upgrade spelling", "WebSocket", "https://SHOP.example", "shop.example", true},
		{"same host and port", "websocket", "https://shop.example:8443", "shop.example:8443", true},
		{"trusted origin", "websocket", "https://app.example.net", "shop.example", true},
		{"another site", "websocket", "https://evil.example", "shop.example", false},
		{"another port", "websocket", "https://shop.example:9999", "shop.example:8443", false},
		{"suffix of the host", "websocket", "https://shop.example.evil", "shop.example", false},
		{"trusted origin with a path", "websocket", "https://app.example.net/x", "shop.example", false},
		{"no Origin", "websocket", "", "shop.example", false},
		{"null Origin (sandboxed page)", "websocket", "null", "shop.example", false},
		{"unparsable Origin", "websocket", "https://%zz", "shop.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "https://"+tt.host+"/ws", nil)
			r.Host = tt.host
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

package session_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
)

// TestUnknownIDThrottleSharedAcrossManagers: two Managers (two sites of one
// gateway) share one limiter, so guesses spread over both count once: N
// sites must not give an attacker N times the guesses.
func TestUnknownIDThrottleSharedAcrossManagers(t *testing.T) {
	shared := session.NewUnknownIDLimiter(10)
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	a := newHarness(t, session.Config{UnknownIDs: shared, TrustedProxies: trusted}, nil)
	b := newHarness(t, session.Config{UnknownIDs: shared, TrustedProxies: trusted}, nil)
	guess := func(h *harness) int {
		id, _ := token.New()
		hdr := cookieHeader("__Host-sid", id)
		hdr.Set("X-Forwarded-For", "198.51.100.7")
		code, _, _ := h.do(h.rawClient(), "GET", "/get?k=a", hdr)
		return code
	}
	for i := range 10 {
		h := a
		if i%2 == 1 {
			h = b
		}
		if code := guess(h); code != http.StatusOK {
			t.Fatalf("guess %d refused early with %d", i, code)
		}
	}
	if code := guess(a); code != http.StatusTooManyRequests {
		t.Fatalf("11th guess over two managers = %d, want 429 (one shared count)", code)
	}
	if code := guess(b); code != http.StatusTooManyRequests {
		t.Fatalf("12th guess on the other manager = %d, want 429", code)
	}
}

// TestThrottledAddressKeepsValidSession: a client IP over the unknown-ID
// limit (everyone behind one NAT) still gets its valid session served, in
// both modes; only requests with unknown IDs are refused.
func TestThrottledAddressKeepsValidSession(t *testing.T) {
	for _, mode := range []session.Mode{session.HTTPSOnly, session.Mixed} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, session.Config{Mode: mode, UnknownIDLimit: 5,
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, nil)
			name := h.m.Config().Cookie.Name
			if mode == session.Mixed {
				name = h.m.Config().Cookie.SecureName
			}
			// The victim's session, from the NAT address.
			rc := h.rawClient()
			req := http.Header{"X-Forwarded-For": {"198.51.100.7"}}
			_, _, resp := h.do(rc, "POST", "/set?k=a&v=kept", req)
			var valid []string
			for _, c := range resp.Cookies() {
				valid = append(valid, c.Name+"="+c.Value)
			}
			if len(valid) == 0 {
				t.Fatal("no session cookie")
			}
			// Someone else behind the same address guesses IDs.
			for range 8 {
				id, _ := token.New()
				hdr := cookieHeader(name, id)
				hdr.Set("X-Forwarded-For", "198.51.100.7")
				h.do(rc, "GET", "/get?k=a", hdr)
			}
			id, _ := token.New()
			hdr := cookieHeader(name, id)
			hdr.Set("X-Forwarded-For", "198.51.100.7")
			if code, _, _ := h.do(rc, "GET", "/get?k=a", hdr); code != http.StatusTooManyRequests {
				t.Fatalf("unknown ID over the limit = %d, want 429", code)
			}
			hdr = http.Header{"X-Forwarded-For": {"198.51.100.7"}}
			for _, v := range valid {
				hdr.Add("Cookie", v)
			}
			code, body, _ := h.do(rc, "GET", "/get?k=a", hdr)
			if code != http.StatusOK || body != "kept" {
				t.Fatalf("valid session on the throttled address = %d %q, want 200 \"kept\"", code, body)
			}
		})
	}
}

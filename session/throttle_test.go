package session_test

import (
	"net/http"
	"net/netip"
	"runtime"
	"testing"
	"time"

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

// TestUnknownIDThrottleKeysIPv6On64: guesses from many addresses of one
// IPv6 /64 (one host picks any of them) share one budget, over HTTP
// through a trusted proxy; a neighbouring /64 and neighbouring IPv4
// addresses keep their own.
func TestUnknownIDThrottleKeysIPv6On64(t *testing.T) {
	const limit = 5
	tests := []struct {
		name    string
		guesses []string // one unknown ID from each, all within the limit
		probe   string   // then one more guess from here
		want    int
	}{
		{"one /64, six addresses", []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:aaaa::3",
			"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2:1234:5678:9abc:def0"}, "2001:db8:1:2:dead:beef::99", http.StatusTooManyRequests},
		{"the neighbouring /64 is another client", []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2::3",
			"2001:db8:1:2::4", "2001:db8:1:2::5"}, "2001:db8:1:3::1", http.StatusOK},
		{"IPv4 addresses are each a client", []string{"198.51.100.7", "198.51.100.7", "198.51.100.7",
			"198.51.100.7", "198.51.100.7"}, "198.51.100.8", http.StatusOK},
		{"IPv4 over its limit", []string{"198.51.100.7", "198.51.100.7", "198.51.100.7",
			"198.51.100.7", "198.51.100.7"}, "198.51.100.7", http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, session.Config{UnknownIDLimit: limit,
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, nil)
			guess := func(from string) int {
				id, _ := token.New()
				hdr := cookieHeader(h.m.Config().Cookie.Name, id)
				hdr.Set("X-Forwarded-For", from)
				code, _, _ := h.do(h.rawClient(), "GET", "/get?k=a", hdr)
				return code
			}
			for i, from := range tt.guesses {
				if code := guess(from); code != http.StatusOK {
					t.Fatalf("guess %d from %s = %d, want 200 (within the limit)", i+1, from, code)
				}
			}
			if code := guess(tt.probe); code != tt.want {
				t.Fatalf("guess from %s after %d = %d, want %d", tt.probe, len(tt.guesses), code, tt.want)
			}
		})
	}
}

// TestUnknownIDThrottleKeepsWorstOffenders: an attacker rotating through
// 200,000 sources (IPv4 addresses and IPv6 /64s, one guess each) within
// one minute cannot make the throttle forget the clients that guessed
// most: the one over the limit stays throttled and the one below it
// keeps its count. The table stays within its bound, and its memory stops
// growing (about 10 MB).
func TestUnknownIDThrottleKeepsWorstOffenders(t *testing.T) {
	const limit = 60
	l := session.NewUnknownIDLimiter(limit)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	worst := netip.MustParseAddr("203.0.113.9")
	second := netip.MustParseAddr("2001:db8:5:6::1")
	for range limit + 1 {
		l.Hit(worst, now)
	}
	for range limit - 10 {
		l.Hit(second, now)
	}
	rotate := func(round int) {
		for i := range 200_000 {
			var a netip.Addr
			if i%2 == 0 {
				a = netip.AddrFrom4([4]byte{10, byte(round), byte(i >> 8), byte(i)})
			} else {
				a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(round), byte(i >> 16), byte(i >> 8), byte(i), 15: 1})
			}
			l.Hit(a, now.Add(time.Duration(i)*time.Microsecond))
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	rotate(1)
	rotate(2) // the table's map reaches its size once deletions have churned it
	afterTwo := heap()
	rotate(3)
	afterThree := heap()
	t.Logf("heap: %d KiB before, %d KiB after 400k sources, %d KiB after 600k", before>>10, afterTwo>>10, afterThree>>10)
	if n := l.Clients(); n > session.MaxUnknownIDClients {
		t.Errorf("the throttle counts %d clients, bound is %d", n, session.MaxUnknownIDClients)
	}
	if afterThree > afterTwo+1<<20 || afterThree > before+32<<20 {
		t.Errorf("heap grew from %d KiB to %d KiB after 400k sources, %d KiB after 600k: not bounded", before>>10, afterTwo>>10, afterThree>>10)
	}
	if over, _ := l.Hit(worst, now.Add(time.Second)); !over {
		t.Error("the worst offender was forgotten: its next guess is allowed")
	}
	other := netip.MustParseAddr("2001:db8:5:6:abcd::2") // same /64 as second
	for i := range 10 {
		if over, _ := l.Hit(other, now.Add(time.Second)); over {
			t.Fatalf("guess %d of the second client refused early", limit-10+i+1)
		}
	}
	if over, first := l.Hit(second, now.Add(time.Second)); !over || !first {
		t.Errorf("the second client's guess %d = over %v first %v; want its count kept (over, first)", limit+1, over, first)
	}
}

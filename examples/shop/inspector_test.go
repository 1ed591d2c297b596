package shop_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/sessiond/sessiond/examples/shop"
)

const hInfo = "X-Session-Info"

// info builds an X-Session-Info value as the gateway sends it.
func info(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// TestInspector checks the session inspector panel against what the
// gateway's X-Session-Info says, and that a read-only page stays
// read-only with it.
func TestInspector(t *testing.T) {
	s := newServer(t, shop.Config{SniffedPath: "/demo/sniffed"})
	now := time.Now().Unix()
	ev := func(kind string, ago int64) string { return kind + " " + strconv.FormatInt(now-ago, 10) }
	tests := []struct {
		name         string
		path         string
		hdr          map[string]string
		code         int
		want, absent []string
	}{
		{
			name: "mixed over HTTP after a step down",
			path: "/cart",
			hdr: map[string]string{hSession: "cart=1%2c3", hRef: "r-1", hSecure: "0", hInfo: info(
				"sessions", "on", "mode", "mixed", "transport", "http", "cookies", "sid __Host-ssid", "ignored", "__Host-ssid",
				"partition", "insecure", "events", ev("created", 90)+","+ev("step-up", 60)+","+ev("step-down", 0), "now", "step-down",
				"http", "http://shop.test:8080", "https", "https://shop.test:8443")},
			code: 200,
			want: []string{`<span class="tag http">HTTP</span>`, `<code>sid</code>`, `<code>__Host-ssid</code> (ignored`,
				`<dd id="i-visible">cart = 1,3</dd>`, "hides the user", `<dd id="i-user">hidden over HTTP</dd>`, `<code>r-1</code>`,
				`<li data-event="step-down" class="now"><b>Step down.</b>`, `<li data-event="step-up">`, `<li data-event="created">`,
				"1 min ago", `href="/demo/sniffed" id="nav-sniffed"`},
			absent: []string{`id="nav-http"`, `id="why"`},
		},
		{
			name: "mixed over HTTPS after a rule redirect",
			path: "/checkout",
			hdr: map[string]string{hSession: "cart=2", hUser: "alice", hSecure: "1", hInfo: info(
				"sessions", "on", "mode", "mixed", "transport", "https", "cookies", "sid __Host-ssid", "partition", "all",
				"why", "You were sent to HTTPS because the gateway's rule “path /checkout → HTTPS” matched.",
				"events", ev("login", 2), "http", "http://shop.test:8080")},
			code: 200,
			want: []string{`<p class="banner why" id="why" role="status">You were sent to HTTPS because the gateway&#39;s rule “path /checkout → HTTPS” matched.</p>`,
				`<span class="tag https">HTTPS</span>`, `<dd id="i-user">alice</dd>`, "nothing: the whole session is visible",
				`<a href="http://shop.test:8080/" id="nav-http">`, `<li data-event="login"><b>Signed in.</b>`, "just now"},
		},
		{
			name: "signed out: an event with no record left",
			path: "/",
			hdr:  map[string]string{hSecure: "1", hInfo: info("sessions", "on", "mode", "mixed", "transport", "https", "now", "logout")},
			code: 200,
			want: []string{`<li data-event="logout" class="now"><b>Signed out.</b>`, "none: no session yet"},
		},
		{
			name:   "https-only site has no attacker's view",
			path:   "/",
			hdr:    map[string]string{hSecure: "1", hInfo: info("sessions", "on", "mode", "https-only", "transport", "https", "http", "http://o.test")},
			code:   200,
			want:   []string{"HTTPS only"},
			absent: []string{`id="nav-sniffed"`, `id="nav-http"`},
		},
		{
			name: "hostile values are escaped or dropped",
			path: "/",
			hdr: map[string]string{hInfo: info("sessions", "on", "mode", "mixed", "transport", "https", "why", "<script>x</script>",
				"cookies", "<b>", "events", "evil 1,login notanumber,<script> 5,step-up", "now", "fork", "http", "javascript:alert(1)")},
			code:   200,
			want:   []string{"&lt;script&gt;x&lt;/script&gt;", "<code>&lt;b&gt;</code>", `<li data-event="fork" class="now">`},
			absent: []string{"<script>", "javascript:", `data-event="evil"`, `data-event="login"`},
		},
		{
			name:   "without the header: transport and ref only",
			path:   "/",
			hdr:    map[string]string{hSecure: "0", hRef: "r-9"},
			code:   200,
			want:   []string{"Transport: HTTP.", "Session ref: <code>r-9</code>", "sent no X-Session-Info"},
			absent: []string{`id="i-events"`, `id="sessions-off"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.do(t, req{path: tt.path, hdr: tt.hdr})
			if got.code != tt.code {
				t.Fatalf("status %d, want %d\n%s", got.code, tt.code, got.body)
			}
			if v, ok := got.hdr[hReplace]; ok {
				t.Errorf("%s = %q on a read-only page", hReplace, v)
			}
			checkBody(t, got.body, tt.want, tt.absent)
		})
	}
}

// TestSessionsOff: where the gateway says sessions are off, the shop shows
// no cart, checkout, account or sign-in, says why, and its session routes
// answer 404 without asking for any change.
func TestSessionsOff(t *testing.T) {
	s := newServer(t, shop.Config{Name: "catalog", SniffedPath: "/demo/sniffed"})
	off := map[string]string{hInfo: info("sessions", "off", "transport", "http")}
	for _, path := range []string{"/", "/products/1"} {
		got := s.do(t, req{path: path, hdr: off})
		if got.code != 200 {
			t.Fatalf("%s: status %d", path, got.code)
		}
		checkBody(t, got.body, []string{`id="sessions-off"`, "Sessions are off", `id="i-sessions"`},
			[]string{`href="/cart"`, `href="/checkout"`, `href="/account"`, `id="add"`, "/login", `id="nav-sniffed"`})
	}
	for _, q := range []req{{path: "/cart"}, {path: "/checkout"}, {path: "/account"},
		{method: http.MethodPost, path: "/cart/add", form: url.Values{"product": {"1"}}}} {
		q.hdr = off
		got := s.do(t, q)
		if got.code != http.StatusNotFound {
			t.Errorf("%s %s: status %d, want 404", q.method, q.path, got.code)
		}
		if v, ok := got.hdr[hReplace]; ok {
			t.Errorf("%s %s: %s = %q where sessions are off", q.method, q.path, hReplace, v)
		}
		checkBody(t, got.body, []string{"sessions are off here"}, nil)
	}
}

// TestStylesheet: the one stylesheet is served by the shop itself, and
// pages link nothing from elsewhere.
func TestStylesheet(t *testing.T) {
	s := newServer(t, shop.Config{})
	got := s.do(t, req{path: "/style.css"})
	if got.code != 200 || got.hdr.Get("Content-Type") != "text/css; charset=utf-8" || len(got.body) < 500 {
		t.Fatalf("GET /style.css = %d %q (%d bytes)", got.code, got.hdr.Get("Content-Type"), len(got.body))
	}
	page := s.do(t, req{path: "/"})
	checkBody(t, page.body, []string{`<link rel="stylesheet" href="/style.css">`, `name="viewport"`},
		[]string{"http://", "https://", "<script"})
}

package gateway

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/wire"
)

// TestParseActionWhole: the gateway applies what wire.ParseActions accepts
// (its cases are in package wire), logs a refused action as an error and
// an unknown one as a warning, and strips the action header.
func TestParseActionWhole(t *testing.T) {
	h := siteHeaders(wire.Headers{})
	for _, tc := range []struct {
		lines                  []string
		login                  string
		logout, regen, refused bool
	}{
		{lines: []string{"login user=alice"}, login: "alice"},
		{lines: []string{"login user=a,b"}, refused: true},
		{lines: []string{"login user=alice", "login user=bob"}, refused: true},
		{lines: []string{"login user=alice", "regenerate"}, login: "alice", regen: true},
		{lines: []string{"regenerate, logout, frobnicate"}, logout: true, regen: true},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		hdr := http.Header{}
		for _, l := range tc.lines {
			hdr.Add(h.Action, l)
		}
		u := parseUpdate(hdr, h, 1<<10, log)
		if u.Login != tc.login || u.Logout != tc.logout || u.Regenerate != tc.regen {
			t.Errorf("%q: login=%q logout=%v regenerate=%v; want %q %v %v", tc.lines, u.Login, u.Logout, u.Regenerate,
				tc.login, tc.logout, tc.regen)
		}
		if got := strings.Contains(buf.String(), "level=ERROR"); got != tc.refused {
			t.Errorf("%q: error logged = %v, want %v\n%s", tc.lines, got, tc.refused, buf.String())
		}
		if hdr.Get(h.Action) != "" {
			t.Errorf("%q: action header not removed", tc.lines)
		}
	}
}

// TestLoginLimiterConfigRefused: a limit the limiter cannot represent
// stops the site at New (it used to leave a nil limiter, and every login
// POST panicked).
func TestLoginLimiterConfigRefused(t *testing.T) {
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("panic: %v", p)
		}
	}()
	g := startGateway(t, nil)
	cfg := config.Default()
	cfg.Sites = []config.Site{*g.g.order[0].cfg}
	cfg.Sites[0].Auth.RateLimit.PerUser = config.Rate{Attempts: 5, Per: -time.Hour}
	if _, err := New(&cfg, Runtime{Store: g.g.store, State: g.g.claims}); err == nil || !strings.Contains(err.Error(), "rate limit") {
		t.Fatalf("New with a negative login rate = %v, want an error", err)
	}
}

// TestHeaderPolicy: what a client may not send and a backend may not
// answer, compared as CGI compares names ('_' is '-', any case).
func TestHeaderPolicy(t *testing.T) {
	h := siteHeaders(wire.Headers{User: "X-App-User"})
	req := http.Header{}
	for _, k := range []string{"X_Session_User", "x_session", "Session", "SESSION", "X-App-User", "X_App_User",
		"Forwarded", "X-Real-Ip", "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Prefix", "Remote-User",
		"Remote_User", "X-Remote-User", "X-Forwarded-For", "X-Forwarded-Proto", "X_Forwarded_Proto", "Accept", "X_Custom"} {
		req[k] = []string{"v"}
	}
	stripSpoofed(h, req)
	for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X_Forwarded_Proto", "Forwarded", "Accept", "X_Custom"} {
		if req[k] == nil {
			t.Errorf("stripSpoofed dropped %s (kept for the session middleware or harmless)", k)
		}
	}
	if len(req) != 6 {
		t.Errorf("after stripSpoofed: %v", req)
	}
	proxied, cgi := req.Clone(), req.Clone()
	stripForward(proxied, false)
	stripForward(cgi, true)
	if len(proxied) != 2 || proxied["Accept"] == nil || proxied["X_Custom"] == nil {
		t.Errorf("forwarded to a proxy: %v", proxied)
	}
	if len(cgi) != 1 || cgi["Accept"] == nil {
		t.Errorf("forwarded to CGI: %v", cgi)
	}
	resp := http.Header{"X-Session": {"v"}, "X_Session_Ref": {"v"}, "Session": {"v"}, "X-App-User": {"v"},
		"X-Replace-Session": {"v"}, http.TrailerPrefix + "X-Session": {"v"}, "Link": {"v"}}
	stripResponse(h, resp)
	if len(resp) != 1 || resp["Link"] == nil {
		t.Errorf("response after stripResponse: %v", resp)
	}
}

// TestIdentityHeadersStripped: a client cannot send the OpenID email and
// groups headers, by their default names or the site's own.
func TestIdentityHeadersStripped(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       wire.Headers
		spoofed []string
	}{
		{"defaults", wire.Headers{}, []string{"X-Session-Email", "X-Session-Groups", "x_session_groups"}},
		{"renamed", wire.Headers{Email: "X-Mail", Groups: "X-Teams"}, []string{"X-Mail", "X_Mail", "x-teams", "X-Session-Email"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := siteHeaders(tc.h)
			req := http.Header{"Accept": {"v"}}
			for _, k := range tc.spoofed {
				req[k] = []string{"admin@example.com"}
			}
			stripSpoofed(h, req)
			if len(req) != 1 || req["Accept"] == nil {
				t.Errorf("after stripSpoofed: %v", req)
			}
			resp := http.Header{}
			for _, k := range tc.spoofed {
				resp[k] = []string{"v"}
			}
			stripResponse(h, resp)
			if len(resp) != 0 {
				t.Errorf("after stripResponse: %v", resp)
			}
		})
	}
}

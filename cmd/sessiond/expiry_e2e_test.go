package main_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// auditEvents parses a gateway's audit log into its events (each line's
// fields).
func auditEvents(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(log) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

// TestExpiredSessionAuditedAndCleared: a session that outlived its idle
// timeout is answered as expired on every store — the audit log has
// session.expired (limit idle_timeout, the session's ref, level INFO), the
// response clears the cookie, the backend sees an empty session — and never
// as an unknown ID. The gateway's audit log still has the lifecycle
// (session.created), which the library's default auditor leaves at Debug.
// Run on each of gatewayStores (SQLite, Redis, cookie store).
func TestExpiredSessionAuditedAndCleared(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			s := serveOn(t, bin, st, "    upstream: "+up.srv.URL+"\n    session: {idle_timeout: 1s}")
			w := web{t, client()}
			w.do("GET", s.httpsURL+"/p?replace="+url.QueryEscape("cart=7"), nil)
			if _, body := w.do("GET", s.httpsURL+"/p", nil); !strings.Contains(body, "session=cart=7\n") {
				t.Fatalf("setup: the backend sees %q, want the cart", body)
			}
			var ref string
			for _, ev := range auditEvents(t, s.auditLog(t)) {
				if ev["event"] == "session.created" && ev["level"] == "INFO" {
					ref, _ = ev["ref"].(string)
				}
			}
			if ref == "" {
				t.Fatalf("the audit log has no session.created at INFO:\n%s", s.auditLog(t))
			}

			time.Sleep(1500 * time.Millisecond)
			resp, body := w.do("GET", s.httpsURL+"/p", nil)
			if !strings.Contains(body, "session=\n") {
				t.Fatalf("after the idle timeout the backend sees %q, want an empty session", body)
			}
			cleared := false
			for _, c := range resp.Cookies() {
				cleared = cleared || (c.Name == "__Host-sid" && c.Value == "" && c.MaxAge < 0)
			}
			if !cleared {
				t.Fatalf("the expired session's cookie was not cleared: Set-Cookie %q", resp.Header.Values("Set-Cookie"))
			}
			expired := 0
			for _, ev := range auditEvents(t, s.auditLog(t)) {
				switch ev["event"] {
				case "session.expired":
					if ev["ref"] != ref || ev["limit"] != "idle_timeout" || ev["source"] != "request" || ev["level"] != "INFO" {
						t.Fatalf("session.expired audited as %v; want ref %s, limit idle_timeout, source request, level INFO", ev, ref)
					}
					expired++
				case "session.unknown_id":
					t.Fatalf("the expired session was answered as an unknown ID: %v", ev)
				}
			}
			if expired != 1 {
				t.Fatalf("%d session.expired events, want 1:\n%s", expired, s.auditLog(t))
			}
			// The browser no longer presents it; the next request is a new visitor.
			req, _ := http.NewRequest("GET", s.httpsURL+"/p", nil)
			if cs := w.c.Jar.Cookies(req.URL); len(cs) != 0 {
				t.Fatalf("the jar still holds %d cookies after the clearing", len(cs))
			}
		})
	}
}

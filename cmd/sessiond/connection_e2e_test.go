package main_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestConnectionCannotStripGatewayHeaders: a client's Connection header
// names the gateway's own request headers as hop-by-hop; the backend
// still gets every one of them, with the gateway's values.
func TestConnectionCannotStripGatewayHeaders(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	s := serveOn(t, bin, gatewayStores[0], "    upstream: "+up.srv.URL)
	w := web{t, client()}
	w.do("GET", s.httpsURL+"/p?replace=cart%3D1", nil)
	w.do("GET", s.httpsURL+"/p?action="+url.QueryEscape("login user=alice"), nil)
	for _, method := range []string{"GET", "HEAD", "POST"} {
		t.Run(method, func(t *testing.T) {
			req, _ := http.NewRequest(method, s.httpsURL+"/p", strings.NewReader(""))
			req.Header.Set("Connection", "X-Session, X-Session-User, x-session-ref, X-Session-Secure, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, keep-alive")
			req.Header.Set("Origin", s.httpsURL)
			resp, err := w.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := up.seen()
			for _, k := range []string{"X-Session", "X-Session-User", "X-Session-Ref", "X-Session-Secure", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"} {
				if got.Get(k) == "" {
					t.Errorf("the client's Connection header stripped the gateway's %s (backend saw %v)", k, got)
				}
			}
			if got.Get("X-Session-User") != "alice" || got.Get("X-Session") != "cart=1" || got.Get("X-Forwarded-Proto") != "https" {
				t.Errorf("backend saw user %q, session %q, proto %q", got.Get("X-Session-User"), got.Get("X-Session"), got.Get("X-Forwarded-Proto"))
			}
		})
	}
}

package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/inspect"
	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/wire"
)

// queryBackend records the query and X-Session-Info of the last request.
type queryBackend struct {
	mu          sync.Mutex
	query, info string
}

func (b *queryBackend) last(t *testing.T) (string, map[string]string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	info, err := wire.DecodeValues(b.info)
	if err != nil {
		t.Fatalf("X-Session-Info: %v", err)
	}
	return b.query, info
}

// TestInspectNoteNeedsNoCookie: the inspector's note (why the gateway
// redirected) travels in the redirect target's query, never in a cookie —
// a redirect from plain HTTP to HTTPS sets no cookie at all — and the
// banner on the HTTPS page still names the rule. The gateway strips the
// parameter before the backend sees the URL and explains only its own
// reasons: a forged note explains nothing.
func TestInspectNoteNeedsNoCookie(t *testing.T) {
	be := &queryBackend{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		be.mu.Lock()
		be.query, be.info = r.URL.RawQuery, r.Header.Get("X-Session-Info")
		be.mu.Unlock()
		for _, v := range r.URL.Query()["replace"] {
			w.Header().Add("X-Replace-Session", v)
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	g := startGateway(t, func(sc *config.Site) {
		sc.Upstream = srv.URL
		sc.Inspect = true
		sc.Session.Mode = config.ModeMixed
		sc.AuthRequired = []string{"/private"}
		sc.Redirects.Rules = []config.RedirectRule{{Path: "/secure", To: secure.HTTPS}}
	})
	for _, tc := range []struct {
		name, path string
		why        string // in the banner on the HTTPS page
		query      string // what the backend's URL keeps
	}{
		{"auth_required", "/private/doc", "needs a signed-in user", ""},
		{"rule", "/secure?x=1", "“path /secure → HTTPS”", "x=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A visitor with a cart over HTTP (a new client each time: after
			// an HTTPS page, an HTTP request steps down, which sets a new sid).
			c := g.client()
			g.do(c, "GET", g.httpURL+"/p?replace="+url.QueryEscape("cart=1"), nil, nil)
			resp, _ := g.do(c, "GET", g.httpURL+tc.path, nil, nil)
			if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
				t.Fatalf("the redirect from HTTP to HTTPS set cookies: %q", sc)
			}
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, g.httpsURL+"/") || !strings.Contains(loc, inspect.NoteParam+"=") {
				t.Fatalf("plain-HTTP request: %d to %q; want a redirect to HTTPS carrying the note", resp.StatusCode, loc)
			}
			resp, body := g.do(c, "GET", loc, nil, nil)
			if tc.name == "auth_required" {
				// The gateway's own login page says why.
				if !strings.Contains(body, tc.why) {
					t.Fatalf("login page (%d) does not say why", resp.StatusCode)
				}
				return
			}
			query, info := be.last(t)
			if !strings.Contains(info["why"], tc.why) {
				t.Fatalf("banner after the redirect: %v; want why with %q", info, tc.why)
			}
			if query != tc.query {
				t.Fatalf("the backend saw the query %q, want %q (the note stripped)", query, tc.query)
			}
			for _, ck := range resp.Cookies() {
				if strings.Contains(ck.Name, "note") {
					t.Fatalf("the HTTPS page set a note cookie: %v", ck)
				}
			}
		})
	}

	// Forged notes: stripped, never explained; other parameters kept.
	for _, forged := range []string{"r99", "bogus", "%3Cb%3E", ""} {
		t.Run("forged "+forged, func(t *testing.T) {
			g.do(g.client(), "GET", g.httpsURL+"/p?y=2&"+inspect.NoteParam+"="+forged, nil, nil)
			query, info := be.last(t)
			if query != "y=2" {
				t.Fatalf("the backend saw the query %q, want y=2", query)
			}
			if info["why"] != "" {
				t.Fatalf("a forged note %q was explained: %v", forged, info["why"])
			}
		})
	}
}

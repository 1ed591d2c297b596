package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/inspect"

	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/wire"
)

// seenInfo is the X-Session-Info the backend received, decoded.
func seenInfo(t *testing.T, g *gw) map[string]string {
	t.Helper()
	v, err := wire.DecodeValues(g.backend.seen().Get("X-Session-Info"))
	if err != nil {
		t.Fatalf("X-Session-Info: %v", err)
	}
	return v
}

// TestInspect: with the site's inspect key the backend learns what the
// gateway did — transport, session cookies by name, partition, the
// record's event log, and why it redirected — from a header no client can
// forge, and the gateway's own bookkeeping never leaks into the session
// data or the backend's cookies.
func TestInspect(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) {
		sc.Inspect = true
		sc.Session.Mode = config.ModeMixed
		sc.Session.Exclude = []string{"/static"}
		sc.Redirects.Rules = []config.RedirectRule{{Path: "/secure", To: secure.HTTPS}}
	})
	c := g.client()
	spoof := http.Header{"X-Session-Info": {"events=login+1&why=spoofed&cookies=__Host-ssid"}}

	// A visitor without a session: nothing carried, nothing forged.
	g.do(c, "GET", g.httpURL+"/p", nil, spoof)
	info := seenInfo(t, g)
	if info["transport"] != "http" || info["sessions"] != "on" || info["mode"] != "mixed" || info["partition"] != "insecure" ||
		info["cookies"] != "" || info["events"] != "" || info["why"] != "" {
		t.Fatalf("first visit: backend saw %v", info)
	}

	// The cart is stored over HTTP: the record is created, and says so.
	g.do(c, "GET", g.httpURL+"/p?replace="+url.QueryEscape("cart=1"), nil, nil)
	g.do(c, "GET", g.httpURL+"/p", nil, nil)
	info = seenInfo(t, g)
	if info["cookies"] != "sid" || !strings.HasPrefix(info["events"], "created ") {
		t.Fatalf("after the first write: backend saw %v", info)
	}
	if data := g.backend.seen().Get("X-Session"); data != "cart=1" {
		t.Fatalf("X-Session = %q; the event log must not reach the backend as data", data)
	}

	// A backend cannot write the log.
	g.do(c, "GET", g.httpURL+"/p?replace="+url.QueryEscape("sessiond.events=login 1"), nil, nil)
	g.do(c, "GET", g.httpURL+"/p", nil, nil)
	if ev := seenInfo(t, g)["events"]; strings.Contains(ev, "login") {
		t.Fatalf("a backend forged the event log: %q", ev)
	}

	// A rule redirect to HTTPS (rule 2: login and logout come first): the
	// next request learns which rule, and
	// that it stepped up; the note (in the target's query, never a cookie)
	// never reaches the backend.
	resp, _ := g.do(c, "GET", g.httpURL+"/secure", nil, nil)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != g.httpsURL+"/secure?"+inspect.NoteParam+"=r2" ||
		len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("rule redirect: %d to %q, Set-Cookie %q", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Values("Set-Cookie"))
	}
	g.do(c, "GET", resp.Header.Get("Location"), nil, nil)
	info = seenInfo(t, g)
	if !strings.Contains(info["why"], "“path /secure → HTTPS”") || info["now"] != "step-up" || info["transport"] != "https" ||
		info["partition"] != "all" || !strings.Contains(info["events"], "step-up ") {
		t.Fatalf("after the rule redirect: backend saw %v", info)
	}
	g.do(c, "GET", g.httpsURL+"/secure", nil, nil)
	if info = seenInfo(t, g); info["why"] != "" || info["now"] != "" {
		t.Fatalf("the note or the step up was reported twice: %v", info)
	}

	// Back on HTTP: a step down.
	g.do(c, "GET", g.httpURL+"/p", nil, nil)
	if info = seenInfo(t, g); info["now"] != "step-down" {
		t.Fatalf("back on HTTP: backend saw %v", info)
	}

	// An unknown note explains nothing.
	g.do(g.client(), "GET", g.httpsURL+"/p?"+inspect.NoteParam+"=r99", nil, nil)
	if info = seenInfo(t, g); info["why"] != "" {
		t.Fatalf("an unknown note was explained: %v", info)
	}

	// Paths without sessions say so.
	g.do(c, "GET", g.httpURL+"/static/x", nil, spoof)
	if info = seenInfo(t, g); info["sessions"] != "off" || info["why"] != "" {
		t.Fatalf("excluded path: backend saw %v", info)
	}
}

// TestInspectOffByDefault: without Inspect the header is never sent, and a
// client's copy is dropped like every X-Session* header.
func TestInspectOffByDefault(t *testing.T) {
	g := startGateway(t, nil)
	resp, _ := g.do(g.client(), "GET", g.httpsURL+"/p", nil, http.Header{"X-Session-Info": {"sessions=on&why=spoofed"}})
	if v := g.backend.seen().Get("X-Session-Info"); v != "" {
		t.Fatalf("X-Session-Info reached the backend without Inspect: %q", v)
	}
	if len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("a read-only request set cookies: %q", resp.Header.Values("Set-Cookie"))
	}
}

// TestInspectLoginPageSaysWhy: the gateway's sign-in page shows why the
// browser was sent there — a rule to HTTPS, or a page that needs a user.
func TestInspectLoginPageSaysWhy(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) {
		sc.Inspect = true
		sc.Session.Mode = config.ModeMixed
		sc.AuthRequired = []string{"/admin"}
	})
	c := g.client()
	resp, _ := g.do(c, "GET", g.httpURL+"/login", nil, nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /login over HTTP = %d", resp.StatusCode)
	}
	_, page := g.do(c, "GET", resp.Header.Get("Location"), nil, nil)
	if !strings.Contains(page, `id="why"`) || !strings.Contains(page, "“path /login, credentials → HTTPS”") {
		t.Fatalf("login page after the rule redirect does not say why:\n%s", page)
	}
	if _, page = g.do(c, "GET", g.httpsURL+"/login", nil, nil); strings.Contains(page, `id="why"`) {
		t.Fatalf("the reason was shown twice:\n%s", page)
	}
	resp, _ = g.do(c, "GET", g.httpsURL+"/admin", nil, nil)
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/login?next=") {
		t.Fatalf("GET /admin anonymous = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, page = g.do(c, "GET", resp.Header.Get("Location"), nil, nil); !strings.Contains(page, "needs a signed-in user") {
		t.Fatalf("login page after an auth redirect does not say why:\n%s", page)
	}
}

// TestInspectRotation: a periodic rotation (here every 2 requests) is a
// "regenerate" event of the request that does it.
func TestInspectRotation(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) {
		sc.Inspect = true
		sc.Session.RotateRequests = 2
	})
	c := g.client()
	g.do(c, "GET", g.httpsURL+"/p?replace="+url.QueryEscape("cart=1"), nil, nil)
	rotated := 0
	for range 4 {
		g.do(c, "GET", g.httpsURL+"/p", nil, nil)
		if seenInfo(t, g)["now"] == "regenerate" {
			rotated++
		}
	}
	info := seenInfo(t, g)
	if rotated < 1 || strings.Count(info["events"], "regenerate ") != rotated || info["mode"] != "https-only" {
		t.Fatalf("%d requests said regenerate; last info %v", rotated, info)
	}
}

// TestInspectHidesAccountOverHTTP: over plain HTTP, X-Session-Info carries
// what the insecure partition may show — the session's transport history —
// never the account's: no login or logout event, no "you signed out" note,
// even for the signed-in record whose sid a sniffer holds. HTTPS sees all.
func TestInspectHidesAccountOverHTTP(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) {
		sc.Inspect = true
		sc.Session.Mode = config.ModeMixed
	})
	c := g.client()
	g.do(c, "GET", g.httpURL+"/p?replace="+url.QueryEscape("cart=1"), nil, nil)
	g.do(c, "GET", g.httpsURL+"/p?action="+url.QueryEscape("login user=bob"), nil, nil)
	steps := []struct {
		name    string
		u       string
		account bool // the login/logout history and note may show
		events  string
		now     string
	}{
		{"HTTPS after the sign-in", g.httpsURL + "/p", true, "login", ""},
		{"HTTP: step down of the signed-in record", g.httpURL + "/p", false, "step-down", "step-down"},
		{"HTTP again", g.httpURL + "/p", false, "step-down", ""},
		{"HTTPS: step up", g.httpsURL + "/p", true, "login", "step-up"},
		{"HTTP: the signed-out landing", g.httpURL + "/?" + inspect.SignedOutQuery, false, "created", "step-down"},
		{"HTTPS: the signed-out landing", g.httpsURL + "/?" + inspect.SignedOutQuery, true, "login", "step-up,logout"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			g.do(c, "GET", st.u, nil, nil)
			info := seenInfo(t, g)
			if !strings.Contains(info["events"], st.events) || info["now"] != st.now {
				t.Fatalf("backend saw %v, want events with %q and now %q", info, st.events, st.now)
			}
			shown := strings.Contains(info["events"], "login") || strings.Contains(info["now"], "logout") || info["why"] != ""
			if shown != st.account {
				t.Fatalf("account history shown: %t, want %t: %v", shown, st.account, info)
			}
		})
	}
}

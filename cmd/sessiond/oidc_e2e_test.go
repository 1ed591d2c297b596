package main_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testoidc"
)

// oidcGateway is a running `sessiond serve` whose site app.localhost signs
// users in at a test OpenID provider (internal/testoidc), and whose site
// staff.localhost admits only the group staff.
type oidcGateway struct {
	gateway
	op    *testoidc.Provider
	audit string
}

var oidcUsers = []testoidc.User{
	{Subject: "u-alice", Username: "alice", Email: "alice@example.com", Groups: []string{"staff", "ops"}},
	{Subject: "u-bob", Username: "bob", Email: "bob@example.com", Groups: []string{"staff"}},
	{Subject: "u-mallory", Username: "mallory", Email: "mallory@example.com", Groups: []string{"guests"}},
	{Subject: "u-eve", Username: "eve", Email: "eve@example.net", Groups: []string{"staff"}},
}

// startOIDCGateway starts a provider and a gateway that trusts it, on
// store st. refresh is the sites' refresh_every, grace their down_grace;
// siteYAML is added to both sites (keys indented by four spaces). Without
// an upstream the sites are forward-auth sites.
func startOIDCGateway(t *testing.T, bin string, st storeCase, upstream string, refresh, grace time.Duration, siteYAML ...string) oidcGateway {
	t.Helper()
	dir := t.TempDir()
	store := st.yaml(t, dir)
	t.Setenv("TEST_ADMIN_TOKEN", testAdminToken)
	for attempt := 1; ; attempt++ {
		g := oidcGateway{gateway: gateway{dir: dir, https: testenv.FreePort(t), http: testenv.FreePort(t), admin: testenv.FreePort(t)},
			audit: filepath.Join(dir, "audit.log")}
		var clients []testoidc.Client
		for _, host := range []string{"app.localhost", "staff.localhost"} {
			origin := fmt.Sprintf("https://%s:%d", host, g.https)
			clients = append(clients, testoidc.Client{ID: host, Secret: "secret-" + host,
				RedirectURIs:           []string{origin + "/.sessiond/oidc/callback"},
				PostLogoutRedirectURIs: []string{origin + "/.sessiond/oidc/signed-out"},
				BackchannelLogoutURI:   origin + "/.sessiond/oidc/backchannel"})
		}
		g.op = testoidc.Run(t, testoidc.Config{Users: oidcUsers, Clients: clients, AlwaysRefreshToken: true,
			BackchannelClient: loopbackClient()})
		ca := filepath.Join(dir, "op-ca.pem")
		if err := os.WriteFile(ca, g.op.CAPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"app.localhost", "staff.localhost"} {
			if err := os.WriteFile(filepath.Join(dir, host+".secret"), []byte("secret-"+host), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		backend := "upstream: " + upstream
		if upstream == "" {
			backend = "forward_auth: {}" // the proxy in front asks /.sessiond/auth
		}
		site := func(host, extra string) string {
			return fmt.Sprintf(`  - hosts: [%[1]s]
    %[2]s
    auth_required: [/private]
    auth:
      oidc:
        issuer: %[3]s
        name: TestOP
        client_id: %[1]s
        client_secret_file: %[4]s
        groups_claim: groups
        ca_root: %[5]s
        refresh_every: %[6]s
        down_grace: %[7]s
%[8]s%[9]s`, host, backend, g.op.Issuer(), filepath.Join(dir, host+".secret"), ca, refresh, grace, extra, strings.Join(siteYAML, ""))
		}
		g.config = filepath.Join(dir, "sessiond.yaml")
		sites := site("app.localhost", "") + site("staff.localhost", "        allowed_groups: [staff]\n        allowed_domains: [example.com]\n")
		if g.startConfig(t, bin, g.configText(t, store, "audit: {log: "+g.audit+"}", sites), attempt == 3) {
			return g
		}
	}
}

// loopbackClient reaches every *.localhost name on 127.0.0.1 and trusts
// the gateway's development certificate: the provider's back channel.
func loopbackClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, n, addr string) (net.Conn, error) {
			_, p, _ := net.SplitHostPort(addr)
			return (&net.Dialer{}).DialContext(ctx, n, "127.0.0.1:"+p)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the gateway's dev_tls certificate on loopback
	}}
}

// follow requests u and follows redirects while they stay off the
// gateway's callback; it returns the last response and its URL.
func follow(w web, u string) (*http.Response, string, string) {
	w.t.Helper()
	for range 10 {
		resp, body := w.do("GET", u, nil)
		loc := resp.Header.Get("Location")
		if loc == "" || strings.Contains(u, "/.sessiond/oidc/callback") {
			return resp, body, u
		}
		next, err := url.Parse(u)
		if err != nil {
			w.t.Fatal(err)
		}
		l, _ := next.Parse(loc)
		u = l.String()
		if strings.Contains(u, "/.sessiond/oidc/callback") {
			resp, body := w.do("GET", u, nil)
			return resp, body, u
		}
	}
	w.t.Fatalf("too many redirects from %s", u)
	return nil, "", ""
}

// oidcLogin signs user in on host through the provider, starting at the
// sign-in with next; it returns the callback's response and URL.
func oidcLogin(w web, g oidcGateway, host, user, next string) (*http.Response, string, string) {
	w.t.Helper()
	if user != "" {
		g.op.NextUser(user)
	}
	return follow(w, g.url(host, "/.sessiond/oidc/login?next="+url.QueryEscape(next)))
}

// auditHas reports whether the audit log holds an event of type typ whose
// line contains every one of parts.
func (g oidcGateway) auditHas(typ string, parts ...string) bool {
	data, _ := os.ReadFile(g.audit)
	for line := range strings.SplitSeq(string(data), "\n") {
		if !strings.Contains(line, `"type":"`+typ+`"`) && !strings.Contains(line, `"event":"`+typ+`"`) {
			continue
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// waitAudit waits up to 2s for an audit event (the log is written as
// requests finish).
func (g oidcGateway) waitAudit(t *testing.T, typ string, parts ...string) {
	t.Helper()
	for range 40 {
		if g.auditHas(typ, parts...) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	data, _ := os.ReadFile(g.audit)
	t.Fatalf("no audit event %s %v in:\n%s", typ, parts, data)
}

// TestOIDCLogin signs users in at a real OpenID provider through the built
// binary, on each store: the login page's button, the code flow back to
// next, a hard regeneration, what the backend sees (and never: a token),
// next= kept same-site, RP-initiated logout at the provider, and
// back-channel logout ending the session.
func TestOIDCLogin(t *testing.T) {
	eachOIDCStore(t, gatewayStores, func(t *testing.T, st storeCase, up *upstream, g oidcGateway) {
		alice := web{t, client()}

		resp, _ := alice.do("GET", g.url("app.localhost", "/private/page?x=1"), nil)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.Contains(loc, "/login?next=") {
			t.Fatalf("anonymous /private = %d %q, want a redirect to the login page", resp.StatusCode, loc)
		}
		_, page := alice.do("GET", loc, nil)
		if !strings.Contains(page, "Sign in with TestOP") || !strings.Contains(page, `href="/.sessiond/oidc/login?next=%2Fprivate%2Fpage%3Fx%3D1"`) {
			t.Fatalf("login page has no provider button for next: %s", page)
		}
		before := sessionCookie(alice, g.gateway, "app.localhost")

		resp, _, cb := oidcLogin(alice, g, "app.localhost", "alice", "/private/page?x=1")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/private/page?x=1" {
			t.Fatalf("callback %s = %d to %q, want 303 to next", cb, resp.StatusCode, resp.Header.Get("Location"))
		}
		after := sessionCookie(alice, g.gateway, "app.localhost")
		if before == "" || after == "" || after == before {
			t.Fatalf("no hard regeneration at sign-in: cookie before %q, after %q", before, after)
		}
		if u := whoAmI(alice, g.gateway, "app.localhost"); u != "u-alice" {
			t.Fatalf("backend sees user %q, want the sub u-alice", u)
		}
		h := up.seen()
		if h.Get("X-Session-Email") != "alice@example.com" || h.Get("X-Session-Groups") != "staff,ops" {
			t.Fatalf("backend sees email %q, groups %q", h.Get("X-Session-Email"), h.Get("X-Session-Groups"))
		}
		for k, vs := range h {
			for _, v := range vs {
				if strings.Contains(v, "eyJ") || strings.Contains(strings.ToLower(k), "token") {
					t.Fatalf("a token reached the backend: %s: %s", k, v)
				}
			}
		}
		g.waitAudit(t, "login.ok", `"user":"u-alice"`)
		// The pre-login ID (fixed by an attacker, say) signs nobody in.
		fixer := web{t, client()}
		fixer.c.Jar.SetCookies(mustURL(t, g.url("app.localhost", "/")), []*http.Cookie{{Name: "__Host-sid", Value: before, Path: "/", Secure: true}})
		if u := whoAmI(fixer, g.gateway, "app.localhost"); u != "" {
			t.Fatalf("the pre-login session ID is signed in as %q", u)
		}

		// A client cannot claim an identity with the new headers.
		anon := web{t, client()}
		req, _ := http.NewRequest("GET", g.url("app.localhost", "/who"), nil)
		req.Header.Set("X-Session-Email", "boss@example.com")
		req.Header.Set("X-Session-Groups", "admins")
		if r, err := anon.c.Do(req); err != nil {
			t.Fatal(err)
		} else {
			r.Body.Close()
		}
		if h := up.seen(); h.Get("X-Session-Email") != "" || h.Get("X-Session-Groups") != "" {
			t.Fatalf("spoofed identity headers reached the backend: %v", h)
		}

		// next= to another site is refused: back to /.
		other := web{t, client()}
		resp, _, _ = oidcLogin(other, g, "app.localhost", "bob", "//evil.example/steal")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("next=//evil.example: %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
		}

		// Logout at the gateway goes on to the provider's end-session
		// endpoint, which signs out there and comes back.
		whoAmI(alice, g.gateway, "app.localhost")
		tok := up.seen().Get("X-Session-Csrf")
		resp, _ = alice.do("POST", g.url("app.localhost", "/logout"), url.Values{"csrf_token": {tok}})
		end := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(end, g.op.Issuer()) || !strings.Contains(end, "id_token_hint=") {
			t.Fatalf("logout = %d to %q, want the provider's end-session endpoint with id_token_hint", resp.StatusCode, end)
		}
		if u := whoAmI(alice, g.gateway, "app.localhost"); u != "" {
			t.Fatalf("still %q after logout", u)
		}
		resp, _, last := follow(alice, end)
		if last != g.url("app.localhost", "/") || resp.StatusCode != http.StatusOK {
			t.Fatalf("after the provider's logout: %d at %s", resp.StatusCode, last)
		}
		if s := g.op.Sessions("alice"); len(s) != 0 {
			t.Fatalf("alice still has provider sessions %v", s)
		}

		// Back-channel logout: the provider ends bob's session there,
		// and his gateway session ends too.
		if u := whoAmI(other, g.gateway, "app.localhost"); u != "u-bob" {
			t.Fatalf("bob = %q", u)
		}
		if err := g.op.LogoutUser(context.Background(), "bob"); err != nil {
			t.Fatal(err)
		}
		var delivered bool
		for _, d := range g.op.Deliveries() {
			delivered = delivered || (d.ClientID == "app.localhost" && d.Status == http.StatusOK)
		}
		if !delivered {
			t.Fatalf("logout token not accepted: %+v", g.op.Deliveries())
		}
		if u := whoAmI(other, g.gateway, "app.localhost"); u != "" {
			t.Fatalf("bob still signed in as %q after the provider's back-channel logout", u)
		}
		g.waitAudit(t, "oidc.backchannel_logout", `"user":"u-bob"`)
	}, 5*time.Minute, 15*time.Minute)
}

// TestOIDCMixedMode: on a mixed-mode site, an anonymous plain-HTTP session
// steps up to HTTPS at the OpenID sign-in and keeps its data; over plain
// HTTP the backend then gets neither the user nor the email or groups;
// a second site signs the same browser in from the provider's session
// (single sign-on).
func TestOIDCMixedMode(t *testing.T) {
	// Mixed mode needs a server store: SQLite and Redis.
	eachOIDCStore(t, gatewayStores[:2], func(t *testing.T, st storeCase, up *upstream, g oidcGateway) {
		plain := fmt.Sprintf("http://app.localhost:%d", g.http)
		w := web{t, client()}
		w.do("GET", plain+"/cart?replace=cart%3D1", nil)
		if resp, _, _ := oidcLogin(w, g, "app.localhost", "alice", "/"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in = %d", resp.StatusCode)
		}
		_, body := w.do("GET", g.url("app.localhost", "/who"), nil)
		if !strings.Contains(body, "cart=1") || !strings.Contains(body, "user=u-alice") || up.seen().Get("X-Session-Email") != "alice@example.com" {
			t.Fatalf("over HTTPS after the step-up: %q, email %q", body, up.seen().Get("X-Session-Email"))
		}
		_, body = w.do("GET", plain+"/who", nil)
		h := up.seen()
		if !strings.Contains(body, "cart=1") || !strings.Contains(body, "user=\n") || h.Get("X-Session-Email") != "" || h.Get("X-Session-Groups") != "" {
			t.Fatalf("over plain HTTP: %q, email %q, groups %q; want the cart and no identity", body, h.Get("X-Session-Email"), h.Get("X-Session-Groups"))
		}
		// Single sign-on: the staff site, no login form at the provider.
		if resp, _, _ := oidcLogin(w, g, "staff.localhost", "", "/"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("single sign-on on the staff site = %d", resp.StatusCode)
		}
		if u := whoAmI(w, g.gateway, "staff.localhost"); u != "u-alice" {
			t.Fatalf("staff site after single sign-on: %q", u)
		}
	}, 5*time.Minute, 15*time.Minute, "    session: {mode: mixed}\n")
}

// TestOIDCTokensSealedAtRest: the ID and refresh tokens a sign-in keeps
// are in the SQLite file in clear without encrypt_at_rest (the control),
// and nowhere in it with encrypt_at_rest.
func TestOIDCTokensSealedAtRest(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, sealed := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypt_at_rest=%v", sealed), func(t *testing.T) {
			var db string
			st := storeCase{"sqlite", func(t *testing.T, dir string) string {
				db = filepath.Join(dir, "s.db")
				yaml := fmt.Sprintf("  sqlite: {path: %s}\n", db)
				if sealed {
					keys := filepath.Join(dir, "data.keys")
					k := make([]byte, 32)
					rand.Read(k)
					if err := os.WriteFile(keys, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
					yaml += fmt.Sprintf("  encrypt_at_rest: {keys_file: %s}\n", keys)
				}
				return yaml
			}}
			g := startOIDCGateway(t, bin, st, up.srv.URL, 5*time.Minute, 15*time.Minute)
			w := web{t, client()}
			if resp, _, _ := oidcLogin(w, g, "app.localhost", "alice", "/"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in = %d", resp.StatusCode)
			}
			whoAmI(w, g.gateway, "app.localhost")
			var stored []byte
			for _, f := range []string{db, db + "-wal"} {
				b, _ := os.ReadFile(f)
				stored = append(stored, b...)
			}
			if inClear := strings.Contains(string(stored), "eyJ"); inClear == sealed {
				t.Fatalf("ID token in the database file in clear: %v (encrypt_at_rest %v)", inClear, sealed)
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// eachOIDCStore runs fn, for each of stores, against a gateway and a
// provider started by startOIDCGateway (with refresh, grace and siteYAML)
// and an upstream that records what it saw.
func eachOIDCStore(t *testing.T, stores []storeCase, fn func(t *testing.T, st storeCase, up *upstream, g oidcGateway), refresh, grace time.Duration, siteYAML ...string) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			fn(t, st, up, startOIDCGateway(t, bin, st, up.srv.URL, refresh, grace, siteYAML...))
		})
	}
}

// TestOIDCForwardAuth: a forward-auth site whose only login is OpenID
// answers a proxy's auth request with 401 and the login page until the
// browser signs in at the provider, then with the user, email and groups.
func TestOIDCForwardAuth(t *testing.T) {
	bin := buildSessiond(t)
	g := startOIDCGateway(t, bin, gatewayStores[0], "", 5*time.Minute, 15*time.Minute)
	w := web{t, client()}
	resp, _ := w.do("GET", g.url("app.localhost", "/.sessiond/auth"), nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("Location"), "/login?next=") {
		t.Fatalf("auth request before sign-in = %d %q, want 401 with the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _, _ := oidcLogin(w, g, "app.localhost", "alice", "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", resp.StatusCode)
	}
	resp, _ = w.do("GET", g.url("app.localhost", "/.sessiond/auth"), nil)
	h := resp.Header
	if resp.StatusCode != http.StatusOK || h.Get("X-Session-User") != "u-alice" || h.Get("X-Session-Email") != "alice@example.com" || h.Get("X-Session-Groups") != "staff,ops" {
		t.Fatalf("auth request after sign-in = %d, user %q, email %q, groups %q", resp.StatusCode, h.Get("X-Session-User"), h.Get("X-Session-Email"), h.Get("X-Session-Groups"))
	}
}

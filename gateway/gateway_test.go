package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/htpasswd"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

// echoBackend is a real upstream that records what it received and
// answers with headers the test asks for (via the X-Test-Reply query).
type echoBackend struct {
	mu   sync.Mutex
	last http.Header
	srv  *httptest.Server
}

func newEchoBackend(t *testing.T) *echoBackend {
	b := &echoBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.last = r.Header.Clone()
		b.mu.Unlock()
		q := r.URL.Query()
		for _, v := range q["replace"] {
			w.Header().Add("X-Replace-Session", v)
		}
		for _, v := range q["action"] {
			w.Header().Add("X-Session-Action", v)
		}
		if c := q.Get("setcookie"); c != "" {
			w.Header().Add("Set-Cookie", c)
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "session="+r.Header.Get("X-Session")+"\nuser="+r.Header.Get("X-Session-User")+
			"\nsecure="+r.Header.Get("X-Session-Secure"))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *echoBackend) seen() http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last.Clone()
}

type gw struct {
	t         *testing.T
	g         *Gateway
	httpsURL  string
	httpURL   string
	backend   *echoBackend
	users     string
	transport *http.Transport
}

const testHost = "app.test"

// testToken is the admin token of test gateways.
const testToken = "admintoken-0123456789"

// testConfig is a checked configuration of sites (start each from
// config.DefaultSite()) whose redirect targets use the ports of the test
// servers: plain HTTP on httpPort, HTTPS on httpsPort.
func testConfig(t testing.TB, httpPort, httpsPort string, sites ...config.Site) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Listen.HTTP.Addr = "127.0.0.1:" + httpPort
	cfg.Listen.HTTPS = config.HTTPSListener{Addr: "127.0.0.1:" + httpsPort, DevTLS: true}
	cfg.Listen.Admin.Token = config.NewSecret(testToken, "test")
	cfg.Store.Memory = &config.MemoryStore{}
	cfg.Sites = sites
	if _, err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// testSite is config.DefaultSite() for hosts, served by backend.
func testSite(backend http.Handler, hosts ...string) config.Site {
	sc := config.DefaultSite()
	sc.Hosts, sc.Handler = hosts, backend
	return sc
}

// startGateway runs a gateway for one site on real HTTP and HTTPS
// listeners: https-only, with the users file's login and an echoing
// upstream; mod changes the site's configuration first.
func startGateway(t *testing.T, mod func(*config.Site)) *gw {
	t.Helper()
	be := newEchoBackend(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if err := htpasswd.Add(users, "alice", "alice-pw", 4); err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewUnstartedServer(nil)
	tlsSrv := httptest.NewUnstartedServer(nil)
	plain.Start()
	tlsSrv.StartTLS()
	t.Cleanup(plain.Close)
	t.Cleanup(tlsSrv.Close)
	g := &gw{t: t, backend: be, users: users,
		httpURL:  "http://" + testHost + ":" + portOf(plain.URL),
		httpsURL: "https://" + testHost + ":" + portOf(tlsSrv.URL)}
	sc := config.DefaultSite()
	sc.Name, sc.Hosts, sc.Upstream, sc.Auth.Htpasswd = "app", []string{testHost}, be.srv.URL, users
	if mod != nil {
		mod(&sc)
	}
	cfg := testConfig(t, portOf(plain.URL), portOf(tlsSrv.URL), sc)
	store := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { store.Close() })
	var err error
	g.g, err = New(cfg, Runtime{Store: store, State: store, Auditor: &session.SlogAuditor{}})
	if err != nil {
		t.Fatal(err)
	}
	plain.Config.Handler, tlsSrv.Config.Handler = g.g, g.g
	g.transport = &http.Transport{
		DialContext: func(ctx context.Context, n, addr string) (net.Conn, error) {
			_, p, _ := net.SplitHostPort(addr)
			return (&net.Dialer{}).DialContext(ctx, n, "127.0.0.1:"+p)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // loopback test server
	}
	return g
}

func portOf(u string) string { p, _ := url.Parse(u); return p.Port() }

func (g *gw) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: g.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (g *gw) do(c *http.Client, method, u string, form url.Values, hdr http.Header) (*http.Response, string) {
	g.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestBackendUpdatesAppliedAndStripped(t *testing.T) {
	g := startGateway(t, nil)
	c := g.client()
	resp, _ := g.do(c, "GET", g.httpsURL+"/p?replace="+url.QueryEscape("cart=1%2c2&name=Zo%c3%ab"), nil, nil)
	for _, h := range []string{"X-Replace-Session", "X-Session-Action"} {
		if resp.Header.Get(h) != "" {
			t.Fatalf("%s reached the client", h)
		}
	}
	if len(resp.Header.Values("Set-Cookie")) != 1 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("new session: Set-Cookie %q, Cache-Control %q", resp.Header.Values("Set-Cookie"), resp.Header.Get("Cache-Control"))
	}
	_, body := g.do(c, "GET", g.httpsURL+"/p", nil, nil)
	if !strings.Contains(body, "session=cart=1%2c2&name=Zo%c3%ab") {
		t.Fatalf("backend saw %q; want the session it set, in mod_session's encoding", body)
	}
	// Merge, not replace; empty value deletes.
	g.do(c, "GET", g.httpsURL+"/p?replace=name%3D", nil, nil)
	g.do(c, "GET", g.httpsURL+"/p?replace=x%3D1", nil, nil)
	if _, body := g.do(c, "GET", g.httpsURL+"/p", nil, nil); !strings.Contains(body, "session=cart=1%2c2&x=1\n") {
		t.Fatalf("after delete+merge backend saw %q", body)
	}
	// Malformed pairs are skipped, the rest applies, nothing is lost.
	g.do(c, "GET", g.httpsURL+"/p?replace="+url.QueryEscape("bad=%zz&y=2"), nil, nil)
	if _, body := g.do(c, "GET", g.httpsURL+"/p", nil, nil); !strings.Contains(body, "session=cart=1%2c2&x=1&y=2\n") {
		t.Fatalf("after a malformed update backend saw %q", body)
	}
}

func TestHeaderSpoofingDropped(t *testing.T) {
	g := startGateway(t, nil)
	c := g.client()
	g.do(c, "GET", g.httpsURL+"/p?replace=a%3D1", nil, nil)
	spoof := http.Header{
		"X-Session":         {"admin=1"},
		"X-Session-User":    {"root"},
		"X-Session-Ref":     {"forged"},
		"X-Session-Secure":  {"1"},
		"X-Session-Extra":   {"x"},
		"Session":           {"admin=1"},
		"X-Forwarded-For":   {"10.0.0.1"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host":  {"evil.example"},
		"X-Replace-Session": {"a=2"},
	}
	for _, base := range []string{g.httpsURL, g.httpURL + "/nosession"} {
		g.do(c, "GET", base+"/p", nil, spoof)
		got := g.backend.seen()
		if v := got.Get("X-Session-User"); v != "" {
			t.Fatalf("spoofed user reached the backend: %q", v)
		}
		if v := got.Get("X-Session"); strings.Contains(v, "admin") {
			t.Fatalf("spoofed session reached the backend: %q", v)
		}
		for _, k := range []string{"X-Session-Ref", "X-Session-Extra", "Session", "X-Replace-Session"} {
			if v := got.Get(k); v == "forged" || v == "x" || v == "admin=1" || v == "a=2" {
				t.Fatalf("spoofed %s reached the backend", k)
			}
		}
		if v := got.Get("X-Forwarded-For"); v != "127.0.0.1" {
			t.Fatalf("X-Forwarded-For = %q, want only the real peer", v)
		}
		if v := got.Get("X-Forwarded-Host"); v == "evil.example" {
			t.Fatal("spoofed X-Forwarded-Host passed")
		}
	}
}

func TestSessionCookiesNeverReachBackend(t *testing.T) {
	g := startGateway(t, nil)
	c := g.client()
	g.do(c, "GET", g.httpsURL+"/p?replace=a%3D1", nil, nil)
	g.do(c, "GET", g.httpsURL+"/p", nil, http.Header{"Cookie": {"theme=dark"}})
	got := g.backend.seen().Get("Cookie")
	if strings.Contains(got, "sid") {
		t.Fatalf("backend saw a session cookie: %q", got)
	}
	// A backend cannot set the session cookie either.
	resp, _ := g.do(c, "GET", g.httpsURL+"/p?setcookie="+url.QueryEscape("__Host-sid=attacker; Path=/; Secure"), nil, nil)
	for _, l := range resp.Header.Values("Set-Cookie") {
		if strings.Contains(l, "attacker") {
			t.Fatalf("backend-set session cookie reached the client: %q", l)
		}
	}
}

func TestReservedKeysAndSecurePartition(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) { sc.Session.Mode = config.ModeMixed })
	c := g.client()
	upd := url.QueryEscape("expiry=1&secure.sessiond.csrf=x&sessiond.user=root&secure.card=4111&cart=1")
	g.do(c, "GET", g.httpURL+"/p?replace="+upd, nil, nil) // over HTTP
	_, body := g.do(c, "GET", g.httpsURL+"/p", nil, nil)
	if !strings.Contains(body, "session=cart=1\n") {
		t.Fatalf("backend over HTTPS saw %q; want only cart (reserved and secure-over-HTTP keys refused)", body)
	}
	g.do(c, "GET", g.httpsURL+"/p?replace="+url.QueryEscape("secure.card=4111"), nil, nil) // over HTTPS: allowed
	if _, body := g.do(c, "GET", g.httpURL+"/p", nil, nil); strings.Contains(body, "4111") {
		t.Fatalf("secure partition visible to the backend over HTTP: %q", body)
	}
	if _, body := g.do(c, "GET", g.httpsURL+"/p", nil, nil); !strings.Contains(body, "secure.card=4111") {
		t.Fatalf("secure partition missing over HTTPS: %q", body)
	}
}

func TestIncludeExclude(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) {
		sc.Session.Include = []string{"/app", "/login", "/logout"}
		sc.Session.Exclude = []string{"/app/static"}
	})
	cases := []struct {
		path string
		want bool
	}{{"/app/x", true}, {"/app", true}, {"/application", false}, {"/app/static/logo.png", false}, {"/other", false}}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp, _ := g.do(g.client(), "GET", g.httpsURL+tc.path+"?replace=k%3Dv", nil, nil)
			got := len(resp.Header.Values("Set-Cookie")) > 0
			if got != tc.want {
				t.Fatalf("session on %s = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func TestBackendActions(t *testing.T) {
	g := startGateway(t, nil)
	c := g.client()
	g.do(c, "GET", g.httpsURL+"/p?replace=cart%3D1", nil, nil)
	u, _ := url.Parse(g.httpsURL)
	sid := func() string {
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == "__Host-sid" {
				return ck.Value
			}
		}
		return ""
	}
	before := sid()
	g.do(c, "GET", g.httpsURL+"/p?action="+url.QueryEscape("login user=bob"), nil, nil)
	if sid() == before {
		t.Fatal("login action did not regenerate the ID")
	}
	if _, body := g.do(c, "GET", g.httpsURL+"/p", nil, nil); !strings.Contains(body, "user=bob") || !strings.Contains(body, "cart=1") {
		t.Fatalf("after login action backend saw %q", body)
	}
	resp, _ := g.do(c, "GET", g.httpsURL+"/p?action=logout", nil, nil)
	if resp.Header.Get("Clear-Site-Data") == "" {
		t.Fatal("logout action did not clear the cookie")
	}
	if _, body := g.do(c, "GET", g.httpsURL+"/p", nil, nil); strings.Contains(body, "bob") {
		t.Fatal("still logged in after the logout action")
	}
}

func TestRequireSecureAction(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) { sc.Session.Mode = config.ModeMixed })
	c := g.client()
	resp, body := g.do(c, "GET", g.httpURL+"/account?action=require-secure", nil, nil)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != g.httpsURL+"/account?action=require-secure" {
		t.Fatalf("require-secure over HTTP = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if strings.Contains(body, "session=") {
		t.Fatal("the backend's page leaked in the redirect")
	}
}

func TestUnknownHost(t *testing.T) {
	g := startGateway(t, nil)
	req, _ := http.NewRequest("GET", g.httpsURL+"/", nil)
	req.Host = "other.test"
	resp, err := g.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("unknown host = %d, want 421", resp.StatusCode)
	}
}

func TestWebSocketCrossOriginRefused(t *testing.T) {
	g := startGateway(t, nil)
	hdr := http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Origin": {"https://evil.example"},
		"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
	if resp, _ := g.do(g.client(), "GET", g.httpsURL+"/ws", nil, hdr); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin websocket = %d, want 403", resp.StatusCode)
	}
}

func TestEnforceOrigin(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) { sc.CSRF.EnforceOrigin = true })
	c := g.client()
	hdr := http.Header{"Sec-Fetch-Site": {"cross-site"}}
	if resp, _ := g.do(c, "POST", g.httpsURL+"/cart/add?replace=x%3D1", url.Values{"product": {"1"}}, hdr); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST to the backend = %d, want 403", resp.StatusCode)
	}
	if resp, _ := g.do(c, "POST", g.httpsURL+"/cart/add", url.Values{"product": {"1"}}, http.Header{"Sec-Fetch-Site": {"same-origin"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("same-origin POST = %d", resp.StatusCode)
	}
}

func TestCGIEnvironment(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "env.cgi")
	os.WriteFile(script, []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nX-Replace-Session: visits=%s\\r\\n\\r\\n' \"${HTTP_SESSION#visits=}1\"\nprintf 'HTTP_SESSION=%s\\n' \"$HTTP_SESSION\"\n"), 0o755)
	g := startGateway(t, func(sc *config.Site) {
		sc.Upstream = ""
		sc.CGI = &config.DirRoute{Dir: dir, Prefix: "/cgi-bin"}
	})
	c := g.client()
	_, body := g.do(c, "GET", g.httpsURL+"/cgi-bin/env.cgi", nil, http.Header{"Session": {"spoofed=1"}})
	if body != "HTTP_SESSION=\n" {
		t.Fatalf("first CGI run = %q, want an empty HTTP_SESSION (spoofed header dropped)", body)
	}
	_, body = g.do(c, "GET", g.httpsURL+"/cgi-bin/env.cgi", nil, nil)
	if body != "HTTP_SESSION=visits=1\n" {
		t.Fatalf("second CGI run = %q", body)
	}
	// A non-canonical path is sent to its canonical form before anything
	// runs; that path is no script.
	if resp, body := g.do(c, "GET", g.httpsURL+"/cgi-bin/../../etc/passwd", nil, nil); resp.StatusCode != http.StatusFound ||
		resp.Header.Get("Location") != "/etc/passwd" || strings.Contains(body, "root:") {
		t.Fatalf("path traversal = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := g.do(c, "GET", g.httpsURL+"/etc/passwd", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/etc/passwd = %d", resp.StatusCode)
	}
}

var _ = secure.Always

func TestOversizedBackendUpdateIgnored(t *testing.T) {
	g := startGateway(t, func(sc *config.Site) { sc.MaxHeaderBytes = 256 })
	c := g.client()
	g.do(c, "GET", g.httpsURL+"/p?replace=cart%3D1", nil, nil)
	big := "x=" + strings.Repeat("y", 300)
	g.do(c, "GET", g.httpsURL+"/p?replace="+url.QueryEscape(big), nil, nil)
	if _, body := g.do(c, "GET", g.httpsURL+"/p", nil, nil); !strings.Contains(body, "session=cart=1\n") {
		t.Fatalf("after an oversized update the backend saw %q; want it ignored and the session intact", body)
	}
}

func TestLegacyHashUpgradedAtLogin(t *testing.T) {
	g := startGateway(t, nil)
	// An Apache $apr1$ entry, as a site migrating from httpd has (openssl passwd -apr1 -salt abcdefgh bob-pw).
	f, err := os.OpenFile(g.users, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("bob:$apr1$abcdefgh$0aIfruTxlpYEhIklxlUOl1\n")
	f.Close()
	if err := g.g.sites[testHost].directory().(login.Reloader).Reload(); err != nil {
		t.Fatal(err)
	}
	if resp := doLogin(g, g.client(), "bob", "bob-pw", "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with an apr1 hash = %d", resp.StatusCode)
	}
	data, _ := os.ReadFile(g.users)
	line := ""
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "bob:") {
			line = l
		}
	}
	if !strings.HasPrefix(line, "bob:$2") {
		t.Fatalf("bob's hash after login: %q, want bcrypt", line)
	}
	if resp := doLogin(g, g.client(), "bob", "bob-pw", "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login after the upgrade = %d", resp.StatusCode)
	}
}

// memRuntime is a Runtime on a new memory store (sessions and state).
func memRuntime(t testing.TB) Runtime {
	m := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { m.Close() })
	return Runtime{Store: m, State: m}
}

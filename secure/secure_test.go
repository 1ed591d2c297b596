package secure_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

type env struct {
	httpURL, httpsURL string
	client            *http.Client
}

type hookFunc func(*http.Request, *session.Session) secure.Scheme

func (f hookFunc) Decide(r *http.Request, s *session.Session) secure.Scheme { return f(r, s) }

// start serves a mixed-mode shop behind rules built by mk (which gets the
// real origins) on a real HTTP and HTTPS listener.
func start(t *testing.T, mk func(httpsOrigin, httpOrigin string) secure.Config) *env {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" && r.Method == http.MethodPost {
			session.FromContext(r.Context()).Login("alice")
			io.WriteString(w, "logged in")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/signin-widget":
			io.WriteString(w, `<html><body><form id="login" method=post><input type="password" name=pw></form></body></html>`)
		case "/newsletter":
			io.WriteString(w, `<html><form id="news"><input name=email></form></html>`)
		default:
			io.WriteString(w, "page "+r.URL.Path)
		}
	})
	store := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { store.Close() })
	var rules *secure.Rules
	plain := httptest.NewUnstartedServer(nil)
	tlsSrv := httptest.NewUnstartedServer(nil)
	plain.Start()
	tlsSrv.StartTLS()
	t.Cleanup(plain.Close)
	t.Cleanup(tlsSrv.Close)
	e := &env{
		httpURL:  "http://shop.test:" + portOf(plain.URL),
		httpsURL: "https://shop.test:" + portOf(tlsSrv.URL),
	}
	cfg := mk(e.httpsURL, e.httpURL)
	rules, err := secure.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(session.Config{Store: store, Mode: session.Mixed, Auditor: &session.SlogAuditor{}})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(rules.Handler(mux))
	plain.Config.Handler, tlsSrv.Config.Handler = h, h
	jar, _ := cookiejar.New(nil)
	e.client = &http.Client{Jar: jar, Transport: &http.Transport{
		DialContext: func(ctx context.Context, n, addr string) (net.Conn, error) {
			_, p, _ := net.SplitHostPort(addr)
			return (&net.Dialer{}).DialContext(ctx, n, "127.0.0.1:"+p)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // loopback test server
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

func portOf(u string) string { p, _ := url.Parse(u); return p.Port() }

func (e *env) do(t *testing.T, method, u string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func TestRuleKinds(t *testing.T) {
	type step struct {
		method, scheme, path string
		code                 int
		to                   string // "https", "http" or "" (no redirect)
	}
	cases := []struct {
		name  string
		cfg   func(s, p string) secure.Config
		login bool
		steps []step
	}{
		{"overall never", func(s, p string) secure.Config { return secure.Config{Overall: secure.Never} },
			false, []step{{"GET", "http", "/checkout", 200, ""}}},
		{"overall always", func(s, p string) secure.Config { return secure.Config{Overall: secure.Always, HTTPSOrigin: s} },
			false, []step{{"GET", "http", "/", 302, "https"}, {"POST", "http", "/cart/add", 307, "https"}, {"GET", "https", "/", 200, ""}}},
		{"path prefix both ways", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, HTTPOrigin: p, Rules: []secure.Rule{
				{Path: "/checkout", To: secure.HTTPS}, {Path: "/", To: secure.HTTP}}}
		}, false, []step{{"GET", "http", "/checkout/pay", 302, "https"}, {"GET", "http", "/checkouts", 200, ""},
			{"GET", "https", "/cart", 302, "http"}, {"GET", "https", "/checkout", 200, ""}}},
		{"path in any case", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Rules: []secure.Rule{{Path: "/checkout", To: secure.HTTPS}}}
		}, false, []step{{"GET", "http", "/CHECKOUT", 302, "https"}, {"GET", "http", "/Checkout/pay", 302, "https"},
			{"GET", "http", "/checkout.json", 302, "https"}, {"GET", "http", "/checkouts", 200, ""}}},
		{"path in its own case", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Paths: secure.PathMatcher{ExactCase: true}, Rules: []secure.Rule{{Path: "/checkout", To: secure.HTTPS}}}
		}, false, []step{{"GET", "http", "/CHECKOUT", 200, ""}, {"GET", "http", "/checkout.json", 302, "https"}}},
		{"glob in any case", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Rules: []secure.Rule{{Glob: "/account/*/edit", To: secure.HTTPS}}}
		}, false, []step{{"GET", "http", "/ACCOUNT/42/Edit", 302, "https"}}},
		{"credentials in another case", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Rules: []secure.Rule{{Path: "/login", To: secure.HTTPS, Credentials: true}}}
		}, false, []step{{"POST", "http", "/LOGIN", 403, ""}}},
		{"glob", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Rules: []secure.Rule{{Glob: "/account/*/edit", To: secure.HTTPS}}}
		}, false, []step{{"GET", "http", "/account/42/edit", 302, "https"}, {"GET", "http", "/account/42", 200, ""}}},
		{"permanent", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Permanent: true, Rules: []secure.Rule{{Path: "/admin", To: secure.HTTPS}}}
		}, false, []step{{"GET", "http", "/admin", 301, "https"}, {"PUT", "http", "/admin", 307, "https"}}},
		{"user state", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Rules: []secure.Rule{{State: secure.Authenticated, To: secure.HTTPS}}}
		}, true, []step{{"GET", "http", "/products/1", 302, "https"}}},
		{"anonymous stays", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Rules: []secure.Rule{{State: secure.Authenticated, To: secure.HTTPS}}}
		}, false, []step{{"GET", "http", "/products/1", 200, ""}}},
		{"content: password form", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Rules: []secure.Rule{{Form: "input[type=password]", To: secure.HTTPS}}}
		}, false, []step{{"GET", "http", "/signin-widget", 302, "https"}, {"GET", "http", "/newsletter", 200, ""}, {"GET", "https", "/signin-widget", 200, ""}}},
		{"content: form id", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Rules: []secure.Rule{{Form: "#news", To: secure.HTTPS}}}
		}, false, []step{{"GET", "http", "/newsletter", 302, "https"}, {"GET", "http", "/signin-widget", 200, ""}}},
		{"hook", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Hook: hookFunc(func(r *http.Request, _ *session.Session) secure.Scheme {
				if r.URL.Query().Get("pay") != "" {
					return secure.HTTPS
				}
				return secure.Stay
			})}
		}, false, []step{{"GET", "http", "/x?pay=1", 302, "https"}, {"GET", "http", "/x", 200, ""}}},
		{"credentials over HTTP refused", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Rules: []secure.Rule{{Path: "/login", To: secure.HTTPS, Credentials: true}}}
		}, false, []step{{"POST", "http", "/login", 403, ""}, {"GET", "http", "/login", 302, "https"}}},
		{"credentials over HTTP refused with always", func(s, p string) secure.Config {
			return secure.Config{HTTPSOrigin: s, Overall: secure.Always, Rules: []secure.Rule{{Path: "/login", To: secure.HTTPS, Credentials: true}}}
		}, false, []step{{"POST", "http", "/login", 403, ""}, {"POST", "http", "/cart", 307, "https"}, {"GET", "http", "/login", 302, "https"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, tc.cfg)
			if tc.login {
				if code, _, _ := e.do(t, "POST", e.httpsURL+"/login"); code != 200 {
					t.Fatalf("login over HTTPS = %d", code)
				}
			}
			for _, st := range tc.steps {
				base := e.httpURL
				if st.scheme == "https" {
					base = e.httpsURL
				}
				code, loc, body := e.do(t, st.method, base+st.path)
				if code != st.code {
					t.Fatalf("%s %s%s = %d, want %d (body %q)", st.method, st.scheme, st.path, code, st.code, body)
				}
				want := ""
				switch st.to {
				case "https":
					want = e.httpsURL + st.path
				case "http":
					want = e.httpURL + st.path
				}
				if loc != want {
					t.Fatalf("%s %s%s Location = %q, want %q", st.method, st.scheme, st.path, loc, want)
				}
				if st.code == 302 && strings.Contains(body, "password") {
					t.Fatal("the protected form leaked in the redirect body")
				}
			}
		})
	}
}

func TestCredentialsRefusalPage(t *testing.T) {
	e := start(t, func(s, p string) secure.Config {
		return secure.Config{HTTPSOrigin: s, Rules: []secure.Rule{{Path: "/login", To: secure.HTTPS, Credentials: true}}}
	})
	code, loc, body := e.do(t, "POST", e.httpURL+"/login?next=/x")
	if code != 403 || loc != "" {
		t.Fatalf("POST credentials over HTTP = %d (Location %q)", code, loc)
	}
	if !strings.Contains(body, `href="`+e.httpsURL+`/login"`) {
		t.Fatalf("refusal page does not link to the HTTPS login: %s", body)
	}
	if strings.Contains(body, "logged in") {
		t.Fatal("credentials were processed")
	}
}

func TestTargetIgnoresHostHeader(t *testing.T) {
	e := start(t, func(s, p string) secure.Config {
		return secure.Config{Overall: secure.Always, HTTPSOrigin: s}
	})
	req, _ := http.NewRequest("GET", e.httpURL+"/x", nil)
	req.Host = "evil.example"
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, e.httpsURL+"/") {
		t.Fatalf("redirect target %q follows the Host header", loc)
	}
}

func TestHSTS(t *testing.T) {
	e := start(t, func(s, p string) secure.Config {
		return secure.Config{HTTPSOrigin: s, HSTS: secure.HSTS{MaxAge: 365 * 24 * time.Hour, IncludeSubdomains: true}}
	})
	resp, err := e.client.Get(e.httpsURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
		t.Fatalf("HSTS = %q", got)
	}
	resp, err = e.client.Get(e.httpURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
		t.Fatalf("HSTS sent over HTTP: %q", got)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]secure.Config{
		"no https origin":  {Rules: []secure.Rule{{Path: "/a", To: secure.HTTPS}}},
		"origin with path": {HTTPSOrigin: "https://x.test/app"},
		"wrong scheme":     {HTTPSOrigin: "http://x.test"},
		"bad glob":         {HTTPSOrigin: "https://x.test", Rules: []secure.Rule{{Glob: "[", To: secure.HTTPS}}},
		"bad selector":     {HTTPSOrigin: "https://x.test", Rules: []secure.Rule{{Form: "form input", To: secure.HTTPS}}},
		"http w/o origin":  {HTTPSOrigin: "https://x.test", Rules: []secure.Rule{{Path: "/", To: secure.HTTP}}},
		"relative path":    {HTTPSOrigin: "https://x.test", Rules: []secure.Rule{{Path: "a", To: secure.HTTPS}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := secure.New(cfg); err == nil {
				t.Fatal("invalid config accepted")
			}
		})
	}
}

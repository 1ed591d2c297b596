package gateway

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
)

// TestLoginLimitsConfigurable: the configured burst is the number of
// attempts allowed at once, and a negative rate (attempts: 0 in the file)
// really turns a limit off.
func TestLoginLimitsConfigurable(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mod        func(*config.Site)
		tries      int
		wantLimitN int // first attempt answered 429 (0: none)
	}{
		{"burst 3 per user", func(c *config.Site) {
			c.Auth.RateLimit.PerIP.Attempts = 0
			c.Auth.RateLimit.PerUser = config.Rate{Attempts: 3, Per: 3 * time.Hour}
		}, 6, 4},
		{"burst 2 per client", func(c *config.Site) {
			c.Auth.RateLimit.PerUser.Attempts = 0
			c.Auth.RateLimit.PerIP = config.Rate{Attempts: 2, Per: 2 * time.Hour}
		}, 6, 3},
		{"both off", func(c *config.Site) { c.Auth.RateLimit.PerIP.Attempts, c.Auth.RateLimit.PerUser.Attempts = 0, 0 }, 30, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, tc.mod)
			c := g.client()
			first := 0
			for i := 1; i <= tc.tries && first == 0; i++ {
				if doLogin(g, c, "alice", "guess", "/").StatusCode == http.StatusTooManyRequests {
					first = i
				}
			}
			if first != tc.wantLimitN {
				t.Fatalf("first 429 at attempt %d, want %d", first, tc.wantLimitN)
			}
			if tc.wantLimitN == 0 {
				if code := doLogin(g, c, "alice", "alice-pw", "/").StatusCode; code != http.StatusSeeOther {
					t.Fatalf("right password after %d wrong ones with limits off = %d, want 303", tc.tries, code)
				}
			}
		})
	}
}

// TestMetricsPath: the admin listener serves metrics where configured,
// behind the token, and nowhere with "".
func TestMetricsPath(t *testing.T) {
	for _, tc := range []struct {
		path         string
		want404, got string
	}{{"/prom", "/metrics", "/prom"}, {"/metrics", "/prom", "/metrics"}, {"", "/metrics", ""}} {
		cfg := testConfig(t, "80", "443", testSite(http.NotFoundHandler(), "app.test"))
		cfg.Listen.Admin.MetricsPath = tc.path
		g, err := New(cfg, memRuntime(t))
		if err != nil {
			t.Fatal(err)
		}
		h := g.AdminHandler()
		get := func(p, tok string) int {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", p, nil)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		if tc.got != "" {
			if c := get(tc.got, testToken); c != 200 {
				t.Errorf("MetricsPath %q: GET %s = %d, want 200", tc.path, tc.got, c)
			}
			if c := get(tc.got, "wrong"); c != 401 {
				t.Errorf("MetricsPath %q: GET %s with a wrong token = %d, want 401", tc.path, tc.got, c)
			}
		}
		if c := get(tc.want404, testToken); c != 404 {
			t.Errorf("MetricsPath %q: GET %s = %d, want 404", tc.path, tc.want404, c)
		}
	}
}

// TestAccessLogJSON: format json writes one JSON object per request, with
// the session's Ref when the request had a session, and no session ID.
func TestAccessLogJSON(t *testing.T) {
	var buf bytes.Buffer
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Replace-Session", "k=v")
		w.Write([]byte("hello"))
	})
	sc := testSite(backend, "app.test")
	sc.Name = "app"
	cfg := testConfig(t, "80", "443", sc)
	cfg.AccessLog.Format = "json"
	rt := memRuntime(t)
	rt.AccessLog = &buf
	g, err := New(cfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "https://app.test/x?y=1", nil)
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET = %d", rec.Code)
	}
	var e map[string]any
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
		t.Fatalf("access log line %q: %v", buf.String(), err)
	}
	if e["site"] != "app" || e["method"] != "GET" || e["path"] != "/x?y=1" || e["status"] != float64(200) || e["bytes"] != float64(5) {
		t.Fatalf("access log line %s", buf.String())
	}
	ref, _ := e["session_ref"].(string)
	if ref == "" {
		t.Fatalf("no session_ref in %s", buf.String())
	}
	for _, c := range rec.Result().Cookies() {
		if strings.Contains(buf.String(), c.Value) {
			t.Fatal("the session ID is in the access log")
		}
	}
}

package session_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

// counterApp counts visits in the session: the usual first program.
func counterApp(t *testing.T, cfg session.Config) (http.Handler, *testkit.Buffer) {
	t.Helper()
	store := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { store.Close() })
	logs := &testkit.Buffer{}
	cfg.Store = store
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Auditor = &session.SlogAuditor{Logger: slog.New(slog.DiscardHandler)}
	m, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n := len(s.Get("n")) + 1
		s.Set("n", strings.Repeat("x", n))
		io.WriteString(w, "visits: "+strings.Repeat("I", n))
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "n="+session.FromContext(r.Context()).Get("n"))
	})
	return m.Handler(mux), logs
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestPlainHTTPFailsLoudly: the usual first try — an HTTPS-only Manager
// behind http.ListenAndServe — must not save nothing quietly: a change
// over plain HTTP is answered with a 500 that names the fix, logged at
// ERROR once per Manager; a request that changes nothing still works.
func TestPlainHTTPFailsLoudly(t *testing.T) {
	h, logs := counterApp(t, session.Config{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := srv.Client()

	for i := range 3 {
		resp, body := get(t, c, srv.URL+"/count")
		if resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("request %d: status %d, want 500 (body %q)", i, resp.StatusCode, body)
		}
		for _, want := range []string{"HTTPS", "AllowHTTP"} {
			if !strings.Contains(body, want) {
				t.Fatalf("500 body %q does not name the fix (%q)", body, want)
			}
		}
		if strings.Contains(body, "visits") || len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("the handler's response or a cookie leaked through the 500: %q %q", body, resp.Header.Values("Set-Cookie"))
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Fatalf("ERROR lines = %d, want exactly 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "AllowHTTP") {
		t.Fatalf("the ERROR line does not name the fix:\n%s", logs)
	}
	if resp, body := get(t, c, srv.URL+"/read"); resp.StatusCode != http.StatusOK || body != "n=" {
		t.Fatalf("read-only request over HTTP = %d %q, want 200 and an empty session", resp.StatusCode, body)
	}
}

// TestAllowHTTPOnLoopback: with AllowHTTP, a plain-HTTP listener on
// loopback (httptest binds 127.0.0.1) keeps a session across requests with
// a non-Secure cookie that a client stores over HTTP.
func TestAllowHTTPOnLoopback(t *testing.T) {
	h, logs := counterApp(t, session.Config{AllowHTTP: true})
	srv := httptest.NewServer(h)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}

	var body string
	for i := range 3 {
		var resp *http.Response
		resp, body = get(t, c, srv.URL+"/count")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d %q", i, resp.StatusCode, body)
		}
		if i == 0 {
			sc := resp.Header.Get("Set-Cookie")
			if !strings.HasPrefix(sc, "sid=") || strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
				t.Fatalf("Set-Cookie %q, want sid=…; HttpOnly without Secure", sc)
			}
		}
	}
	if body != "visits: III" {
		t.Fatalf("third visit says %q, want the count kept across requests", body)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("errors logged:\n%s", logs)
	}
}

// TestAllowHTTPRefusedOffLoopback: AllowHTTP never applies to a listener
// on a routable address; the request is served as plain HTTP to an
// HTTPS-only Manager (500 naming the fix). The local address is set in the
// request's context as net/http's server would, without opening a socket.
func TestAllowHTTPRefusedOffLoopback(t *testing.T) {
	h, _ := counterApp(t, session.Config{AllowHTTP: true})
	for _, local := range []string{"192.0.2.10:8080", "[2001:db8::1]:8080", ""} {
		r := httptest.NewRequest("GET", "http://example.test/count", nil)
		if local != "" {
			addr, err := net.ResolveTCPAddr("tcp", local)
			if err != nil {
				t.Fatal(err)
			}
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusInternalServerError || len(w.Result().Cookies()) != 0 {
			t.Fatalf("listener %q: status %d cookies %v, want 500 and no cookie", local, w.Code, w.Result().Cookies())
		}
	}
}

func TestAllowHTTPConfig(t *testing.T) {
	store := memory.New(memory.Config{SweepInterval: -1})
	defer store.Close()
	for _, tc := range []struct {
		cfg   session.Config
		field string
	}{
		{session.Config{Store: store, Mode: session.Mixed, AllowHTTP: true}, "AllowHTTP"},
		{session.Config{Store: store, AllowHTTP: true, Cookie: session.CookieConfig{Name: "__Host-sid"}}, "Cookie.Name"},
	} {
		_, err := session.New(tc.cfg)
		var ce *session.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("New(%+v) = %v, want a ConfigError on %s", tc.cfg, err, tc.field)
		}
	}
	m, err := session.New(session.Config{Store: store, AllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Config().Cookie.Name; got != "sid" {
		t.Fatalf("AllowHTTP default cookie name = %q, want sid", got)
	}
}

package session_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
	"github.com/sessiond/sessiond/store/sqlite"
)

// cacheApp is app() plus handlers that choose their own Cache-Control.
func cacheApp() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("GET /public", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		io.WriteString(w, "logo")
	})
	mux.HandleFunc("POST /public-set", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		session.FromContext(r.Context()).Set("k", "v")
	})
	return mux
}

// Attack: a shared cache (a CDN, a corporate proxy) keeps a response that
// was built from someone's session and serves it to the next visitor. Every
// response of a request that carried a session — signed in or anonymous,
// with or without a new cookie — is Cache-Control: no-store and varies on
// Cookie; a response with no session is left to the handler. A handler
// that chose its own Cache-Control keeps it, except on a response that
// sets a session cookie. Run on the memory store, SQLite and the cookie
// store.
func TestNoStoreOnEverySessionResponse(t *testing.T) {
	stores := []struct {
		name string
		cfg  func(t *testing.T) session.Config
	}{
		{"memory", func(t *testing.T) session.Config { return session.Config{} }},
		{"sqlite", func(t *testing.T) session.Config {
			st, err := sqlite.New(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "s.db"),
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return session.Config{Store: st}
		}},
		{"cookie", func(t *testing.T) session.Config {
			codec, err := cookie.New(cookie.Config{Keys: [][]byte{cookie.GenerateKey()}, Revocations: cookie.NewMemoryRevocations()})
			if err != nil {
				t.Fatal(err)
			}
			return session.Config{Codec: codec}
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			h := newHarness(t, st.cfg(t), cacheApp())
			anon := h.client()
			h.do(anon, "POST", "/set?k=cart&v=1", nil)
			signedIn := h.client()
			h.do(signedIn, "POST", "/login?u=alice", nil)
			loggedOut := h.client()
			h.do(loggedOut, "POST", "/login?u=bob", nil)
			none := h.client()
			stale := cookieHeader(h.m.Config().Cookie.Name, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
			cases := []struct {
				name       string
				c          *http.Client
				method     string
				path       string
				header     http.Header
				wantCookie bool
				wantCC     string // "" : absent
				wantVary   bool
			}{
				{"no session", none, "GET", "/get?k=cart", nil, false, "", false},
				{"no session, handler's own", none, "GET", "/public", nil, false, "public, max-age=3600", false},
				{"anonymous session read", anon, "GET", "/get?k=cart", nil, false, "no-store", true},
				// The cookie store writes the record into the cookie.
				{"anonymous session write", anon, "POST", "/set?k=cart&v=2", nil, st.name == "cookie", "no-store", true},
				{"signed-in read", signedIn, "GET", "/whoami", nil, false, "no-store", true},
				{"signed-in, handler's own", signedIn, "GET", "/public", nil, false, "public, max-age=3600", true},
				{"stale cookie", h.rawClient(), "GET", "/get?k=cart", stale, false, "no-store", true},
				{"new session", h.client(), "POST", "/set?k=a&v=1", nil, true, "no-store", true},
				{"new session over handler's own", h.client(), "POST", "/public-set", nil, true, "no-store", true},
				{"login", anon, "POST", "/login?u=carol", nil, true, "no-store", true},
				{"logout", loggedOut, "POST", "/logout", nil, true, "no-store", true},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					status, _, resp := h.do(tc.c, tc.method, tc.path, tc.header)
					if status != http.StatusOK {
						t.Fatalf("status %d", status)
					}
					if got := len(resp.Header.Values("Set-Cookie")) > 0; got != tc.wantCookie {
						t.Errorf("sets a cookie: %v, want %v", got, tc.wantCookie)
					}
					if got := resp.Header.Get("Cache-Control"); got != tc.wantCC {
						t.Errorf("Cache-Control = %q, want %q", got, tc.wantCC)
					}
					if got := resp.Header.Get("Vary") == "Cookie"; got != tc.wantVary {
						t.Errorf("Vary = %q, want Cookie: %v", resp.Header.Get("Vary"), tc.wantVary)
					}
				})
			}
		})
	}
}

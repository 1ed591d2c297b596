package session_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
)

// The Manager over the client-side cookie codec: the same API, the record
// in the browser, logout and revoke-all through the revocation store.
func newCookieHarness(t *testing.T) *harness {
	t.Helper()
	clk := testkit.NewClock(time.Now())
	codec, err := cookie.New(cookie.Config{Keys: [][]byte{cookie.GenerateKey()},
		Revocations: cookie.NewMemoryRevocations(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, session.Config{Codec: codec, Now: clk.Now}, nil)
	h.clock = clk
	return h
}

func TestCookieSessions(t *testing.T) {
	h := newCookieHarness(t)
	c := h.client()
	h.do(c, "POST", "/set?k=cart&v=1,2", nil)
	h.do(c, "POST", "/login?u=alice", nil)
	if h.store.writes() != 0 {
		t.Fatal("a cookie session wrote to the server store")
	}
	if _, body, _ := h.do(c, "GET", "/get?k=cart", nil); body != "1,2" {
		t.Fatalf("cart = %q", body)
	}
	if _, body, _ := h.do(c, "GET", "/whoami", nil); body != "alice" {
		t.Fatalf("user = %q", body)
	}
	stolen := h.sid(c)
	if strings.Contains(stolen, "alice") || strings.Contains(stolen, "1,2") {
		t.Fatal("cookie value is not encrypted")
	}

	t.Run("tampered cookie is a new anonymous session", func(t *testing.T) {
		b := []byte(stolen)
		if b[len(b)/2] == 'A' {
			b[len(b)/2] = 'B'
		} else {
			b[len(b)/2] = 'A'
		}
		if _, body, _ := h.do(h.rawClient(), "GET", "/whoami", cookieHeader("__Host-sid", string(b))); body != "" {
			t.Fatalf("tampered cookie accepted: %q", body)
		}
	})
	t.Run("expired cookie", func(t *testing.T) {
		h.clock.Advance(31 * time.Minute)
		if _, body, _ := h.do(h.rawClient(), "GET", "/whoami", cookieHeader("__Host-sid", stolen)); body != "" {
			t.Fatalf("expired cookie accepted: %q", body)
		}
	})
}

func TestCookieSessionReplayAfterLogout(t *testing.T) {
	h := newCookieHarness(t)
	c := h.client()
	h.do(c, "POST", "/login?u=bob", nil)
	stolen := h.sid(c)
	_, _, resp := h.do(c, "POST", "/logout", nil)
	if resp.Header.Get("Clear-Site-Data") == "" {
		t.Fatal("logout did not clear the cookie")
	}
	if _, body, _ := h.do(h.rawClient(), "GET", "/whoami", cookieHeader("__Host-sid", stolen)); body != "" {
		t.Fatalf("cookie replayed after logout sees %q", body)
	}
}

func TestCookieSessionRevokeAll(t *testing.T) {
	h := newCookieHarness(t)
	a, b := h.client(), h.client()
	h.do(a, "POST", "/login?u=carol", nil)
	h.do(b, "POST", "/login?u=carol", nil)
	h.clock.Advance(time.Second)
	if _, err := h.m.RevokeUserSessions(t.Context(), "carol", ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*http.Client{a, b} {
		if _, body, _ := h.do(c, "GET", "/whoami", nil); body != "" {
			t.Fatalf("cookie session survived revoke-all: %q", body)
		}
	}
}

func TestCookieSessionLateChangesAreReported(t *testing.T) {
	var logs strings.Builder
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /late", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "started")
		w.(http.Flusher).Flush()
		session.FromContext(r.Context()).Set("late", "1")
	})
	codec, err := cookie.New(cookie.Config{Keys: [][]byte{cookie.GenerateKey()}, Revocations: cookie.NewMemoryRevocations()})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, session.Config{Codec: codec, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, mux)
	c := h.client()
	h.do(c, "POST", "/set?k=a&v=1", nil)
	h.do(c, "POST", "/late", nil)
	if !strings.Contains(logs.String(), "cannot save changes made after the response began") {
		t.Fatalf("late change in a cookie session was not reported; log:\n%s", logs.String())
	}
}

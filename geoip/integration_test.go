package geoip_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/sessiond/sessiond/geoip"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

type discardAuditor struct{}

func (discardAuditor) Audit(context.Context, session.Event) {}

// TestManagerAreas logs "alice" in from several clients through a TLS
// server behind a trusted proxy (127.0.0.1, where the test client
// connects from) and checks the areas ListUserSessions reports.
func TestManagerAreas(t *testing.T) {
	loc := open(t, geoip.Config{Path: cityDB(t)})
	store := memory.New(memory.Config{})
	t.Cleanup(func() { store.Close() })
	m, err := session.New(session.Config{
		Store:          store,
		Locator:        loc,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Auditor:        discardAuditor{},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login("alice"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	srv := httptest.NewTLSServer(m.Handler(mux))
	t.Cleanup(srv.Close)

	clients := []struct {
		name     string
		xff      string // X-Forwarded-For set by the "proxy"; "" for none
		wantIP   string
		wantArea string
	}{
		{"documentation IPv4 via proxy", "192.0.2.55", "192.0.2.55", "DE, Berlin"},
		{"chain, client is the rightmost untrusted hop", "8.8.8.8, 2001:db8::7", "2001:db8::7", "JP, Tokyo"},
		{"country only", "198.51.100.20", "198.51.100.20", "FR"},
		{"no header: the proxy itself, loopback", "", "127.0.0.1", ""},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			jar, err := cookiejar.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			client := srv.Client()
			client.Jar = jar
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/login", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.xff != "" {
				req.Header.Set("X-Forwarded-For", c.xff)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("login: %s: %s", resp.Status, body)
			}
			if len(resp.Cookies()) == 0 {
				t.Fatal("login set no session cookie")
			}
		})
	}

	infos, err := m.ListUserSessions(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	areas := map[string]string{} // IP → Area
	for _, in := range infos {
		areas[in.IP] = in.Area
	}
	if len(infos) != len(clients) || len(areas) != len(clients) {
		t.Errorf("ListUserSessions: %d sessions from %d IPs, want %d: %+v", len(infos), len(areas), len(clients), infos)
	}
	for _, c := range clients {
		t.Run("listed/"+c.name, func(t *testing.T) {
			area, ok := areas[c.wantIP]
			if !ok {
				t.Fatalf("no session from %s in %+v", c.wantIP, infos)
			}
			if area != c.wantArea {
				t.Errorf("session from %s: Area %q, want %q", c.wantIP, area, c.wantArea)
			}
		})
	}
}

package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestSessionsPageAndAdminAPI(t *testing.T) {
	g := startGateway(t, nil)
	a, b := g.client(), g.client()
	doLogin(g, a, "alice", "alice-pw", "/")
	doLogin(g, b, "alice", "alice-pw", "/")
	_, page := g.do(a, "GET", g.httpsURL+"/.sessiond/sessions", nil, nil)
	if strings.Count(page, "data-ref=") != 2 || !strings.Contains(page, "this session") {
		t.Fatalf("sessions page does not list both sessions:\n%s", page)
	}
	tok := between(page, `name="csrf_token" value="`, `"`)
	if resp, _ := g.do(a, "POST", g.httpsURL+"/.sessiond/sessions/revoke-others", url.Values{"csrf_token": {tok}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke others = %d", resp.StatusCode)
	}
	if _, body := g.do(b, "GET", g.httpsURL+"/p", nil, nil); strings.Contains(body, "alice") {
		t.Fatal("the other session survived revoke-others")
	}
	if _, body := g.do(a, "GET", g.httpsURL+"/p", nil, nil); !strings.Contains(body, "alice") {
		t.Fatal("the current session was revoked")
	}
	admin := httptest.NewServer(g.g.AdminHandler())
	defer admin.Close()
	resp, _ := http.Get(admin.URL + "/api/realms/app/users/alice/sessions")
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("admin without token = %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", admin.URL+"/api/realms/app/users/alice/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Sessions []map[string]any }
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if len(out.Sessions) != 1 {
		t.Fatalf("admin list = %d sessions, want 1", len(out.Sessions))
	}
	req, _ = http.NewRequest("GET", admin.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, _ = http.DefaultClient.Do(req)
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `sessiond_logins_total{result="ok"} 2`) {
		t.Fatalf("metrics lack the login count:\n%.2000s", m)
	}
}

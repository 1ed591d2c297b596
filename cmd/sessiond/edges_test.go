package main_test

import (
	"net/url"
	"os"
	"strings"
	"testing"
)

// auditLog reads a served gateway's audit log.
func (s served) auditLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(s.audit)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestBackendLoginParsedWhole: "login user=admin,guest" from a backend
// signs in nobody (today's split at the comma signed in "admin"); the
// session's data survives.
func TestBackendLoginParsedWhole(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	s := serve(t, bin, "    upstream: "+up.srv.URL)
	w := web{t, client()}
	w.do("GET", s.httpsURL+"/p?replace="+url.QueryEscape("cart=7"), nil)
	for _, action := range []string{"login user=admin,guest", "login user=admin, logout", "regenerate, login user=admin",
		"login user=adm\xffin", "login user=" + strings.Repeat("a", 257)} {
		w.do("GET", s.httpsURL+"/p?action="+url.QueryEscape(action), nil)
		_, body := w.do("GET", s.httpsURL+"/p", nil)
		if !strings.Contains(body, "user=\n") || !strings.Contains(body, "cart=7") {
			t.Fatalf("after a backend %q the backend sees %q; want no user and the cart kept", action, body)
		}
	}
	if log := s.auditLog(t); strings.Contains(log, "login.backend") {
		t.Fatalf("a refused backend login was audited as a login:\n%s", log)
	}
	// A well-formed login still works.
	w.do("GET", s.httpsURL+"/p?action="+url.QueryEscape("login user=alice"), nil)
	if _, body := w.do("GET", s.httpsURL+"/p", nil); !strings.Contains(body, "user=alice\n") {
		t.Fatalf("valid backend login: backend sees %q", body)
	}
}

// TestLoginUserNameBounded: a 1 MiB user name is refused before it is a
// rate-limit key, an audit field or a page echo; the real user can still
// sign in.
func TestLoginUserNameBounded(t *testing.T) {
	bin := buildSessiond(t)
	up := newUpstream(t)
	s := serve(t, bin, "    upstream: "+up.srv.URL)
	w := web{t, client()}
	long := strings.Repeat("n", 1<<20)
	for range 3 {
		_, page := w.do("GET", s.httpsURL+"/login", nil)
		resp, body := w.do("POST", s.httpsURL+"/login", url.Values{"csrf_token": {field(page, "csrf_token")},
			"username": {long}, "password": {"x"}})
		if resp.StatusCode != 401 || strings.Contains(body, strings.Repeat("n", 300)) {
			t.Fatalf("1 MiB user name = %d (page of %d bytes); want 401 without the name", resp.StatusCode, len(body))
		}
	}
	if log := s.auditLog(t); strings.Contains(log, strings.Repeat("n", 300)) || !strings.Contains(log, "login.failed") {
		t.Fatalf("audit log (%d bytes) holds the long name or lacks login.failed", len(log))
	}
	_, page := w.do("GET", s.httpsURL+"/login", nil)
	resp, _ := w.do("POST", s.httpsURL+"/login", url.Values{"csrf_token": {field(page, "csrf_token")},
		"username": {"alice"}, "password": {"alice-pw"}})
	if resp.StatusCode != 303 {
		t.Fatalf("alice's login after the attack = %d", resp.StatusCode)
	}
}

package remember_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessiond/sessiond/remember"
)

// TestForgetDeletesOnlyThisBrowsersKey: Forget (logout, an unticked
// login) deletes the key of the request's cookie and clears the cookie;
// the user's key on another device still works, and a cookie with a wrong
// validator deletes nothing.
func TestForgetDeletesOnlyThisBrowsersKey(t *testing.T) {
	st := remember.NewMemoryStore()
	m, err := remember.New(remember.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	issue := func() *http.Cookie {
		w := httptest.NewRecorder()
		if err := m.Issue(w, httptest.NewRequest("POST", "https://a/login", nil), "alice"); err != nil {
			t.Fatal(err)
		}
		return w.Result().Cookies()[0]
	}
	laptop, phone := issue(), issue()
	with := func(c *http.Cookie) *http.Request {
		r := httptest.NewRequest("GET", "https://a/", nil)
		r.AddCookie(c)
		return r
	}
	// A forged validator for the phone's selector deletes nothing.
	forged := *phone
	forged.Value = phone.Value[:len(phone.Value)-4] + "AAAA"
	if forged.Value == phone.Value {
		forged.Value = phone.Value[:len(phone.Value)-4] + "BBBB"
	}
	if err := m.Forget(httptest.NewRecorder(), with(&forged)); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := m.Forget(w, with(laptop)); err != nil {
		t.Fatal(err)
	}
	if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Fatalf("Forget did not clear the cookie: %v", cs)
	}
	if _, err := m.Authenticate(httptest.NewRecorder(), with(laptop)); err == nil {
		t.Fatal("the forgotten key still signs in")
	}
	if u, err := m.Authenticate(httptest.NewRecorder(), with(phone)); err != nil || u != "alice" {
		t.Fatalf("the other device's key: %q, %v", u, err)
	}
	// Left: the phone's used key (kept to detect reuse) and its new key.
	if n, _ := st.DeleteUser(context.Background(), "", "alice"); n != 2 {
		t.Fatalf("%d keys left, want the phone's used and rotated keys (the laptop's deleted)", n)
	}
}

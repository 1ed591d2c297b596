package remember_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/remember"
)

// TestOwnsLeavesOtherKeysAlone: a key that Config.Owns refuses (another
// realm's, a removed user's) is answered ErrNotFound and neither consumed,
// burned nor forgotten: it still signs in where it belongs.
func TestOwnsLeavesOtherKeysAlone(t *testing.T) {
	st := remember.NewMemoryStore()
	home, err := remember.New(remember.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	other, err := remember.New(remember.Config{Store: st, Owns: func(u string) bool { return strings.HasPrefix(u, "b:") }})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := home.Issue(w, httptest.NewRequest("POST", "https://a/login", nil), "a:alice"); err != nil {
		t.Fatal(err)
	}
	key := w.Result().Cookies()[0]
	with := func(value string) *http.Request {
		r := httptest.NewRequest("GET", "https://b/", nil)
		r.AddCookie(&http.Cookie{Name: key.Name, Value: value})
		return r
	}
	wrong := key.Value[:len(key.Value)-4] + "AAAA"
	if wrong == key.Value {
		wrong = key.Value[:len(key.Value)-4] + "BBBB"
	}
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"authenticate", func() error { _, err := other.Authenticate(httptest.NewRecorder(), with(key.Value)); return err }},
		{"wrong validator", func() error { _, err := other.Authenticate(httptest.NewRecorder(), with(wrong)); return err }},
		{"forget", func() error {
			if err := other.Forget(httptest.NewRecorder(), with(key.Value)); err != nil {
				return err
			}
			return remember.ErrNotFound
		}},
	} {
		if err := tc.run(); !errors.Is(err, remember.ErrNotFound) {
			t.Errorf("%s on the other Manager: %v, want ErrNotFound", tc.name, err)
		}
	}
	if u, err := home.Authenticate(httptest.NewRecorder(), with(key.Value)); err != nil || u != "a:alice" {
		t.Fatalf("the key at home after the other Manager saw it: %q, %v", u, err)
	}
}

package remember_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessiond/sessiond/remember"
)

// TestRealmKeepsKeysApart: two Managers of different realms on one store
// (two sites of a gateway) never use, burn, forget or revoke each other's
// keys, even for the same user name, on every backend.
func TestRealmKeepsKeysApart(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T) remember.Store) {
		st := open(t)
		rec := &recorder{}
		shop, err1 := remember.New(remember.Config{Store: st, Realm: "shop", Auditor: rec})
		blog, err2 := remember.New(remember.Config{Store: st, Realm: "blog:1"})
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		if err := shop.Issue(w, httptest.NewRequest("POST", "https://shop/login", nil), "alice"); err != nil {
			t.Fatal(err)
		}
		key := w.Result().Cookies()[0]
		with := func() *http.Request {
			r := httptest.NewRequest("GET", "https://blog/", nil)
			r.AddCookie(&http.Cookie{Name: key.Name, Value: key.Value})
			return r
		}
		if _, err := blog.Authenticate(httptest.NewRecorder(), with()); !errors.Is(err, remember.ErrNotFound) {
			t.Fatalf("shop's key at the blog: %v, want ErrNotFound", err)
		}
		if err := blog.Forget(httptest.NewRecorder(), with()); err != nil {
			t.Fatal(err)
		}
		if err := blog.Disable(httptest.NewRecorder(), with(), "alice"); err != nil {
			t.Fatal(err)
		}
		if n, err := blog.DeleteUser(context.Background(), "alice"); err != nil || n != 0 {
			t.Fatalf("the blog's DeleteUser(alice) = %d, %v; want 0 (shop's alice is another user)", n, err)
		}
		if u, err := shop.Authenticate(httptest.NewRecorder(), with()); err != nil || u != "alice" {
			t.Fatalf("the key at the shop after the blog saw it: %q, %v", u, err)
		}
		if n, err := shop.DeleteUser(context.Background(), "alice"); err != nil || n != 2 {
			t.Fatalf("the shop's DeleteUser(alice) = %d, %v; want the used and the rotated key", n, err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, e := range rec.events {
			realm := ""
			for _, a := range e.Attrs {
				if a.Key == "realm" {
					realm = a.Value.String()
				}
			}
			if realm != "shop" || e.User != "alice" {
				t.Errorf("%s names realm %q and user %q, want shop and alice", e.Type, realm, e.User)
			}
		}
	})
}

package session_test

import (
	"fmt"
	"net/http"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

func Example() {
	store := memory.New(memory.Config{})
	defer store.Close()
	m, err := session.New(session.Config{Store: store}) // zero values are the safe defaults
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart/add", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("cart", s.Get("cart")+r.FormValue("product")+",")
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// after checking the password:
		if err := session.FromContext(r.Context()).Login("alice"); err != nil { // new ID, then the user
			http.Error(w, "login failed", http.StatusForbidden)
		}
	})
	handler := m.Handler(mux) // serve it over HTTPS: the cookie is __Host-sid, Secure
	fmt.Println(handler != nil, m.Config().Cookie.Name)
	// Output: true __Host-sid
}

func ExampleSession_SetJSON() {
	// Typed helpers sit on top of the string values.
	type prefs struct{ Theme string }
	var s *session.Session // from session.FromContext(r.Context())
	if s != nil {
		_ = s.SetJSON("prefs", prefs{Theme: "dark"})
	}
	fmt.Println("ok")
	// Output: ok
}

package session_test

import (
	"errors"
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

// A tool that checks or shows a configuration asks for its effective
// form: the defaults New would apply, or what New would refuse.
func ExampleConfig_Effective() {
	store := memory.New(memory.Config{})
	defer store.Close()
	eff, err := session.Config{Store: store, Mode: session.Mixed}.Effective()
	fmt.Println(eff.IdleTimeout, eff.Cookie.Name, eff.Cookie.SecureName, err)

	_, err = session.Config{Store: store, Cookie: session.CookieConfig{Path: "app"}}.Effective()
	var ce *session.ConfigError
	fmt.Println(errors.As(err, &ce), ce.Field)
	// Output:
	// 30m0s sid __Host-ssid <nil>
	// true Cookie.Path
}

package csrf_test

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"

	"github.com/sessiond/sessiond/csrf"
)

// An application wires the token layer to its sessions. With package
// session the function is:
//
//	func(r *http.Request) csrf.Store {
//		if s := session.FromContext(r.Context()); s != nil {
//			return s
//		}
//		return nil
//	}
//
// and the session handler wraps the csrf handler.
func ExampleNew() {
	p, err := csrf.New(csrf.Config{
		// The same site is also served over plain HTTP on port 8080 and
		// its pages may post here.
		TrustedOrigins:         []string{"http://shop.localhost:8080"},
		InsecureBypassPatterns: []string{"POST /hooks/payment"},
		Session:                sessionOf,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart/add", func(w http.ResponseWriter, r *http.Request) {})
	_ = p.Handler(mux) // wrap it in the session handler: sessions.Handler(p.Handler(mux))
	fmt.Println("ok")
	// Output: ok
}

// Check is the pure form of Handler: it decides and writes nothing.
func ExampleProtection_Check() {
	var p csrf.Protection // zero value: origin checks only
	r := httptest.NewRequest("POST", "https://shop.example/cart/add", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	err := p.Check(r)
	fmt.Println(errors.Is(err, csrf.ErrCrossOrigin))
	// Output: true
}

// Templates are parsed once with FuncMap and take the request as argument.
func ExampleFuncMap() {
	page := template.Must(template.New("cart").Funcs(csrf.FuncMap()).Parse(
		`<form method="post" action="/cart/add">{{ csrfField .Request }}<button>Add</button></form>`))
	handler := func(w http.ResponseWriter, r *http.Request) {
		_ = page.Execute(w, struct{ Request *http.Request }{r})
	}
	_ = handler
}

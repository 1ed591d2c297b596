package browsertest

import (
	"context"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessiond/sessiond/session"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop – {{.Page}}</title><link rel="icon" href="data:,">
<style>body{font-family:sans-serif;margin:2em} .box{border:1px solid #999;padding:1em;margin:1em 0}</style></head>
<body><main id="page-{{.Page}}">
{{- if eq .Page "cart"}}<h1>Your cart</h1>{{else if eq .Page "checkout"}}<h1>Checkout</h1>{{end}}
<p>Served over <b id="scheme">{{.Scheme}}</b></p>
{{- if .User}}<p id="signed-in">Signed in as <b>{{.User}}</b></p>{{else}}<p id="anonymous">Not signed in</p>{{end}}
{{- if eq .Page "product"}}
<h1>Product {{.Product}}</h1>
<form id="add-form" method="post" action="/cart/add">
<input type="hidden" name="product" value="{{.Product}}"><button id="add" type="submit">Add to cart</button>
</form>
{{- end}}
<div class="box"><h2>Cart</h2><p><span id="cart">{{.Cart}}</span></p></div>
{{- if .Card}}<p id="card">Card on file ending in {{.Card}}</p>{{end}}
{{- if eq .Page "cart"}}<p><a id="checkout" href="/checkout">Checkout</a></p>{{end}}
{{- if eq .Page "checkout"}}
{{- if not .User}}
<form id="login-form" method="post" action="/login">
<label>User <input id="username" name="username" autocomplete="off"></label>
<button id="login" type="submit">Sign in</button>
</form>
{{- end}}
<p><a id="continue" href="{{.HTTPOrigin}}/cart">Continue shopping</a></p>
{{- end}}
</main></body></html>
`))

type pageData struct {
	Page, Scheme, Product, Cart, User, Card, HTTPOrigin string
}

// shopRoutes is a tiny shop: product pages and the cart over HTTP,
// checkout and login over HTTPS (the secure rules enforce that).
func shopRoutes(httpOrigin string) http.Handler {
	render := func(w http.ResponseWriter, r *http.Request, d pageData) {
		s := session.FromContext(r.Context())
		d.Scheme = "http"
		if r.TLS != nil {
			d.Scheme = "https"
		}
		d.Cart = s.Get("cart")
		d.User = s.User() // "" over HTTP in mixed mode
		if card := s.Get("secure.card"); len(card) >= 4 {
			d.Card = card[len(card)-4:]
		}
		d.HTTPOrigin = httpOrigin
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page.Execute(w, d); err != nil {
			panic(err)
		}
	}
	validProduct := func(id string) bool {
		n, err := strconv.Atoi(id)
		return err == nil && n >= 1 && n <= 3
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !validProduct(r.PathValue("id")) {
			http.NotFound(w, r)
			return
		}
		render(w, r, pageData{Page: "product", Product: r.PathValue("id")})
	})
	mux.HandleFunc("POST /cart/add", func(w http.ResponseWriter, r *http.Request) {
		id := r.PostFormValue("product")
		if !validProduct(id) {
			http.Error(w, "no such product", http.StatusBadRequest)
			return
		}
		s := session.FromContext(r.Context())
		cart := s.Get("cart")
		if cart != "" {
			cart += ","
		}
		s.Set("cart", cart+id)
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		render(w, r, pageData{Page: "cart"})
	})
	mux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
		render(w, r, pageData{Page: "checkout"})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := r.PostFormValue("username")
		if user != testUser {
			http.Error(w, "unknown user", http.StatusForbidden)
			return
		}
		s := session.FromContext(r.Context())
		if err := s.Login(user); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		s.Set("secure.card", testCard)
		http.Redirect(w, r, "/checkout", http.StatusSeeOther)
	})
	return mux
}

// --- server-side recording -------------------------------------------------

// exchange is one request as the server received it and the response
// headers it sent.
type exchange struct {
	secure      bool
	method, uri string
	cookie      string // all Cookie header lines, joined
	status      int
	location    string
	setCookie   []string
}

type recorder struct {
	mu  sync.Mutex
	log []exchange
}

// wrap records every request and response around next; it is the
// outermost handler, so it sees the Cookie header as the browser sent it and
// the Set-Cookie lines as they went out.
func (rec *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &recordingWriter{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		rw.snapshot(http.StatusOK)
		x := exchange{
			secure: r.TLS != nil, method: r.Method, uri: r.URL.RequestURI(),
			cookie: strings.Join(r.Header.Values("Cookie"), "; "),
			status: rw.status, location: rw.location, setCookie: rw.setCookie,
		}
		rec.mu.Lock()
		rec.log = append(rec.log, x)
		rec.mu.Unlock()
	})
}

func (rec *recorder) snapshot() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.log)
}

func (rec *recorder) dump() string {
	var b strings.Builder
	for _, x := range rec.snapshot() {
		scheme := "http "
		if x.secure {
			scheme = "https"
		}
		fmt.Fprintf(&b, "  %s %-4s %-16s %d", scheme, x.method, x.uri, x.status)
		if x.location != "" {
			fmt.Fprintf(&b, " → %s", x.location)
		}
		fmt.Fprintf(&b, "\n      Cookie: %s\n", cookieNames(x.cookie))
		for _, sc := range x.setCookie {
			name, rest, _ := strings.Cut(sc, "=")
			_, attrs, _ := strings.Cut(rest, ";")
			fmt.Fprintf(&b, "      Set-Cookie: %s=…;%s\n", name, attrs)
		}
	}
	return b.String()
}

// recordingWriter notes the status and headers when they go out.
type recordingWriter struct {
	http.ResponseWriter
	status    int
	location  string
	setCookie []string
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recordingWriter) snapshot(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	w.location = w.Header().Get("Location")
	w.setCookie = slices.Clone(w.Header().Values("Set-Cookie"))
}

func (w *recordingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.snapshot(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.snapshot(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// countingStore counts the records created.
type countingStore struct {
	session.Store
	creates atomic.Int64
}

func (s *countingStore) Create(ctx context.Context, rec *session.Record) error {
	err := s.Store.Create(ctx, rec)
	if err == nil {
		s.creates.Add(1)
	}
	return err
}

// --- small helpers ----------------------------------------------------------

func port(t *testing.T, l net.Listener) string {
	t.Helper()
	_, p, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hasCookie reports whether a Cookie header holds a cookie called name.
func hasCookie(header, name string) bool {
	cs, err := http.ParseCookie(header)
	if err != nil {
		return strings.Contains(header, name+"=")
	}
	return slices.ContainsFunc(cs, func(c *http.Cookie) bool { return c.Name == name })
}

// cookieNames lists the names in a Cookie header, without the values.
func cookieNames(header string) string {
	var names []string
	for part := range strings.SplitSeq(header, ";") {
		if name, _, _ := strings.Cut(strings.TrimSpace(part), "="); name != "" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

// short abbreviates a session ID for the log.
func short(id string) string {
	if len(id) > 6 {
		return id[:6] + "…"
	}
	return id
}

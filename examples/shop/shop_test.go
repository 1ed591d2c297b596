package shop_test

import (
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/examples/shop"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/wire"
)

// server is a shop behind a real httptest server, with its log captured.
type server struct {
	srv    *httptest.Server
	client *http.Client
	log    *testkit.Buffer
}

func newServer(t *testing.T, cfg shop.Config) *server {
	t.Helper()
	log := &testkit.Buffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	srv := httptest.NewServer(shop.New(cfg))
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &server{srv: srv, client: client, log: log}
}

// req is a request as the gateway would forward it.
type req struct {
	method string
	path   string
	hdr    map[string]string // gateway headers
	form   url.Values        // POST body, urlencoded
	body   string            // raw POST body, when form is nil
}

type resp struct {
	code int
	hdr  http.Header
	body string
}

func (s *server) do(t *testing.T, q req) resp {
	t.Helper()
	method := q.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	switch {
	case q.form != nil:
		body = strings.NewReader(q.form.Encode())
	case q.body != "":
		body = strings.NewReader(q.body)
	}
	r, err := http.NewRequest(method, s.srv.URL+q.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range q.hdr {
		r.Header.Set(k, v)
	}
	res, err := s.client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{code: res.StatusCode, hdr: res.Header, body: string(b)}
}

func checkBody(t *testing.T, body string, want, absent []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q\nbody:\n%s", w, body)
		}
	}
	for _, a := range absent {
		if strings.Contains(body, a) {
			t.Errorf("body contains %q\nbody:\n%s", a, body)
		}
	}
}

const (
	hSession = "X-Session"
	hUser    = "X-Session-User"
	hRef     = "X-Session-Ref"
	hSecure  = "X-Session-Secure"
	hCSRF    = "X-Session-Csrf"
	hField   = "X-Session-Csrf-Field"
	hReplace = "X-Replace-Session"
	hAction  = "X-Session-Action"
)

// TestGetRoutes checks every read-only route: status, content, and that no
// read-only page asks the gateway to change the session (sessions are lazy).
func TestGetRoutes(t *testing.T) {
	s := newServer(t, shop.Config{})
	tests := []struct {
		name       string
		req        req
		wantCode   int
		wantAction string // "" = header absent
		want       []string
		absent     []string
	}{
		{
			name:     "home lists products",
			req:      req{path: "/"},
			wantCode: 200,
			want: []string{`href="/products/1"`, `href="/products/2"`, `href="/products/3"`, "Session Mug",
				`<strong id="site"><a href="/">shop</a></strong>`, `href="/cart"`, `href="/checkout"`, `href="/account"`},
		},
		{
			name:     "home with a session changes nothing",
			req:      req{path: "/", hdr: map[string]string{hSession: "cart=1", hUser: "alice"}},
			wantCode: 200,
			want:     []string{`href="/products/1"`},
		},
		{name: "HEAD home", req: req{method: http.MethodHead, path: "/"}, wantCode: 200},
		{
			name:     "product page has the add-to-cart form",
			req:      req{path: "/products/2"},
			wantCode: 200,
			want: []string{"<h1>Cookie Jar</h1>", "19.90",
				`<form method="post" action="/cart/add"><input type="hidden" name="product" value="2"><button id="add">Add to cart</button></form>`},
		},
		{name: "unknown product", req: req{path: "/products/99"}, wantCode: 404, want: []string{"no such product"}},
		{name: "product zero", req: req{path: "/products/0"}, wantCode: 404},
		{name: "non-numeric product", req: req{path: "/products/abc"}, wantCode: 404},
		{name: "leading zero product", req: req{path: "/products/01"}, wantCode: 404},
		{name: "negative product", req: req{path: "/products/-1"}, wantCode: 404},
		{
			name:     "empty cart",
			req:      req{path: "/cart"},
			wantCode: 200,
			want:     []string{`<p id="cart-line" class="ids">cart: </p>`, "Your cart is empty", `href="/checkout"`},
			absent:   []string{"<li data-product"},
		},
		{
			name:     "cart lists its products",
			req:      req{path: "/cart", hdr: map[string]string{hSession: "cart=1%2c3"}},
			wantCode: 200,
			want: []string{"cart: 1,3", `<ul id="cart" class="lines"><li data-product="1"><span>Session Mug</span><span class="price">12.50</span></li><li data-product="3"><span>Padlock T-shirt</span><span class="price">24.00</span></li></ul>`,
				`href="/checkout"`},
			absent: []string{"Your cart is empty"},
		},
		{
			name:     "cart keeps duplicates in order",
			req:      req{path: "/cart", hdr: map[string]string{hSession: "cart=2%2c1%2c2"}},
			wantCode: 200,
			want:     []string{"cart: 2,1,2"},
		},
		{
			name:     "checkout as guest",
			req:      req{path: "/checkout", hdr: map[string]string{hSession: "cart=1%2c3"}},
			wantCode: 200,
			want:     []string{"cart: 1,3", `<li data-product="3">`, `<form method="post" action="/checkout"><button id="place-order">Place order</button></form>`, `href="/login?next=%2Fcheckout"`},
			absent:   []string{"Signed in as"},
		},
		{
			name:     "checkout signed in",
			req:      req{path: "/checkout", hdr: map[string]string{hSession: "cart=2", hUser: "alice", hSecure: "1"}},
			wantCode: 200,
			want:     []string{"Signed in as alice", "cart: 2", "Place order"},
		},
		{
			name:     "checkout shows the last order",
			req:      req{path: "/checkout", hdr: map[string]string{hSession: "secure.last_order=1%2c2", hSecure: "1"}},
			wantCode: 200,
			want:     []string{"last order: 1,2", `<p id="cart-line" class="ids">cart: </p>`},
			absent:   []string{"Place order"},
		},
		{
			name:     "account anonymous",
			req:      req{path: "/account", hdr: map[string]string{hSecure: "0"}},
			wantCode: 200,
			want:     []string{"not signed in", `<a href="/login?next=%2Faccount" id="signin">`, "Transport: HTTP."},
			absent:   []string{`action="/logout"`, "Session ref"},
		},
		{
			name:     "account signed in",
			req:      req{path: "/account", hdr: map[string]string{hUser: "alice", hSecure: "1", hRef: "r-42"}},
			wantCode: 200,
			want:     []string{"Signed in as alice", `<form method="post" action="/logout"><button id="logout">Log out</button></form>`, "Transport: HTTPS.", "Session ref: <code>r-42</code>"},
			absent:   []string{"not signed in"},
		},
		{
			name:     "account without a gateway",
			req:      req{path: "/account"},
			wantCode: 200,
			want:     []string{"Transport: unknown."},
		},
		{
			name:     "account with an odd secure value",
			req:      req{path: "/account", hdr: map[string]string{hSecure: "yes"}},
			wantCode: 200,
			want:     []string{"Transport: unknown."},
		},
		{name: "admin anonymous", req: req{path: "/admin"}, wantCode: 403, absent: []string{"administrator)"}},
		{name: "admin as alice", req: req{path: "/admin", hdr: map[string]string{hUser: "alice", hSecure: "1"}}, wantCode: 403},
		{name: "admin case differs", req: req{path: "/admin", hdr: map[string]string{hUser: "Admin", hSecure: "1"}}, wantCode: 403},
		{
			name:     "admin as admin",
			req:      req{path: "/admin", hdr: map[string]string{hUser: "admin", hSecure: "1"}},
			wantCode: 200,
			want:     []string{"<h1>Admin</h1>", "Signed in as admin (administrator)", `<tr data-product="3">`},
		},
		{
			name:       "admin over plain HTTP",
			req:        req{path: "/admin", hdr: map[string]string{hUser: "admin", hSecure: "0"}},
			wantCode:   403,
			wantAction: "require-secure",
			want:       []string{"HTTPS"},
		},
		{name: "unknown path", req: req{path: "/nope"}, wantCode: 404},
		{name: "GET on a POST route", req: req{path: "/cart/add?product=1"}, wantCode: 405},
		{name: "PUT on a page", req: req{method: http.MethodPut, path: "/cart"}, wantCode: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.do(t, tt.req)
			if got.code != tt.wantCode {
				t.Errorf("status = %d, want %d\nbody:\n%s", got.code, tt.wantCode, got.body)
			}
			if v, ok := got.hdr[hReplace]; ok {
				t.Errorf("%s = %q on a read-only request; want none", hReplace, v)
			}
			if v := got.hdr.Get(hAction); v != tt.wantAction {
				t.Errorf("%s = %q, want %q", hAction, v, tt.wantAction)
			}
			if v := got.hdr.Get("Set-Cookie"); v != "" {
				t.Errorf("Set-Cookie = %q; the shop knows nothing of cookies", v)
			}
			if tt.wantCode != 404 && tt.wantCode != 405 && tt.req.method != http.MethodHead {
				if ct := got.hdr.Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
			checkBody(t, got.body, tt.want, tt.absent)
		})
	}
}

// TestCartAdd checks that POST /cart/add appends to the cart, emits exactly
// the new cart in X-Replace-Session and redirects to /cart, and that bad
// input changes nothing.
func TestCartAdd(t *testing.T) {
	s := newServer(t, shop.Config{})
	full := strings.TrimSuffix(strings.Repeat("1%2c", shop.MaxCartItems), "%2c")
	tests := []struct {
		name        string
		session     string
		path        string // default /cart/add
		form        url.Values
		body        string
		wantCode    int
		wantReplace string // "" = header absent
		wantCart    string // the cart the header sets, decoded
		want        []string
		absent      []string
	}{
		{name: "first item", form: url.Values{"product": {"1"}}, wantCode: 303, wantReplace: "cart=1", wantCart: "1"},
		{name: "appends", session: "cart=1", form: url.Values{"product": {"3"}}, wantCode: 303, wantReplace: "cart=1%2c3", wantCart: "1,3"},
		{name: "same product twice", session: "cart=1%2c3", form: url.Values{"product": {"1"}}, wantCode: 303, wantReplace: "cart=1%2c3%2c1", wantCart: "1,3,1"},
		{name: "other keys are not echoed", session: "theme=dark&cart=2&secure.x=y", form: url.Values{"product": {"1"}}, wantCode: 303, wantReplace: "cart=2%2c1", wantCart: "2,1"},
		{name: "stale IDs are dropped", session: "cart=1%2c99%2cx%2c%2c2", form: url.Values{"product": {"3"}}, wantCode: 303, wantReplace: "cart=1%2c2%2c3", wantCart: "1,2,3"},
		{name: "malformed session header", session: "cart=3&%zz=1&x=%g", form: url.Values{"product": {"1"}}, wantCode: 303, wantReplace: "cart=3%2c1", wantCart: "3,1"},
		{name: "form with other fields", form: url.Values{"product": {"2"}, "csrf_token": {"t"}}, wantCode: 303, wantReplace: "cart=2", wantCart: "2"},
		{name: "unknown product", session: "cart=1", form: url.Values{"product": {"99"}}, wantCode: 400, want: []string{"Unknown product", "99", "nothing was added"}},
		{name: "product zero", form: url.Values{"product": {"0"}}, wantCode: 400, want: []string{"Unknown product"}},
		{name: "non-numeric product", form: url.Values{"product": {"abc"}}, wantCode: 400, want: []string{"Unknown product"}},
		{name: "leading zero", form: url.Values{"product": {"01"}}, wantCode: 400},
		{name: "plus sign", form: url.Values{"product": {"+1"}}, wantCode: 400},
		{name: "hostile product", form: url.Values{"product": {"<script>alert(1)</script>"}}, wantCode: 400,
			want: []string{"&lt;script&gt;"}, absent: []string{"<script>"}},
		{name: "missing product", form: url.Values{"other": {"1"}}, wantCode: 400, want: []string{`Missing form field`}},
		{name: "product only in the URL query", path: "/cart/add?product=1", body: "x=1", wantCode: 400},
		{name: "malformed body", body: "product=%zz", wantCode: 400, want: []string{"could not be read"}},
		{name: "body too large", body: "product=1&pad=" + strings.Repeat("a", 70<<10), wantCode: 413},
		{name: "cart full", session: "cart=" + full, form: url.Values{"product": {"2"}}, wantCode: 409, want: []string{"cart is full"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := req{method: http.MethodPost, path: tt.path, form: tt.form, body: tt.body}
			if q.path == "" {
				q.path = "/cart/add"
			}
			if tt.session != "" {
				q.hdr = map[string]string{hSession: tt.session}
			}
			got := s.do(t, q)
			if got.code != tt.wantCode {
				t.Errorf("status = %d, want %d\nbody:\n%s", got.code, tt.wantCode, got.body)
			}
			rep, ok := got.hdr[hReplace]
			switch {
			case tt.wantReplace == "" && ok:
				t.Errorf("%s = %q; want none (nothing changed)", hReplace, rep)
			case tt.wantReplace != "" && (len(rep) != 1 || rep[0] != tt.wantReplace):
				t.Errorf("%s = %q, want %q", hReplace, rep, tt.wantReplace)
			}
			if tt.wantReplace != "" {
				c, err := wire.DecodeChanges(rep[0])
				if err != nil || len(c.Delete) != 0 || !maps.Equal(c.Set, map[string]string{"cart": tt.wantCart}) {
					t.Errorf("decoded %s = %+v, %v; want cart=%q only", hReplace, c, err, tt.wantCart)
				}
				if loc := got.hdr.Get("Location"); loc != "/cart" {
					t.Errorf("Location = %q, want /cart", loc)
				}
			}
			checkBody(t, got.body, tt.want, tt.absent)
		})
	}
}

// TestPlaceOrder checks that POST /checkout moves the cart into the secure
// partition, and refuses over plain HTTP and with an empty cart.
func TestPlaceOrder(t *testing.T) {
	s := newServer(t, shop.Config{})
	tests := []struct {
		name       string
		hdr        map[string]string
		wantCode   int
		wantSet    map[string]string // nil = no X-Replace-Session
		wantDel    []string
		wantAction string
		want       []string
	}{
		{
			name:     "over HTTPS",
			hdr:      map[string]string{hSession: "cart=1%2c3&secure.last_order=2", hSecure: "1", hUser: "alice"},
			wantCode: 200,
			wantSet:  map[string]string{"secure.last_order": "1,3"},
			wantDel:  []string{"cart"},
			want:     []string{"order: 1,3", "Thank you, alice!", `<ul id="order" class="lines"><li data-product="1"><span>Session Mug</span><span class="price">12.50</span></li><li data-product="3">`, `<p id="cart-line" class="ids">cart: </p>`},
		},
		{
			name:     "without a gateway's secure header",
			hdr:      map[string]string{hSession: "cart=2"},
			wantCode: 200,
			wantSet:  map[string]string{"secure.last_order": "2"},
			wantDel:  []string{"cart"},
			want:     []string{"order: 2"},
		},
		{
			name:       "over plain HTTP",
			hdr:        map[string]string{hSession: "cart=1%2c3", hSecure: "0"},
			wantCode:   403,
			wantAction: "require-secure",
			want:       []string{"HTTPS", "nothing was ordered"},
		},
		{
			name:     "empty cart",
			hdr:      map[string]string{hSecure: "1"},
			wantCode: 400,
			want:     []string{"cart is empty"},
		},
		{
			name:     "cart of unknown products only",
			hdr:      map[string]string{hSession: "cart=98%2c99", hSecure: "1"},
			wantCode: 400,
			want:     []string{"cart is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.do(t, req{method: http.MethodPost, path: "/checkout", hdr: tt.hdr, form: url.Values{}})
			if got.code != tt.wantCode {
				t.Errorf("status = %d, want %d\nbody:\n%s", got.code, tt.wantCode, got.body)
			}
			rep, ok := got.hdr[hReplace]
			if tt.wantSet == nil {
				if ok {
					t.Errorf("%s = %q; want none", hReplace, rep)
				}
			} else {
				c, err := wire.DecodeChanges(got.hdr.Get(hReplace))
				if err != nil || !maps.Equal(c.Set, tt.wantSet) || !slices.Equal(c.Delete, tt.wantDel) {
					t.Errorf("%s = %q → %+v, %v; want set %v, delete %v", hReplace, rep, c, err, tt.wantSet, tt.wantDel)
				}
			}
			if a := got.hdr.Get(hAction); a != tt.wantAction {
				t.Errorf("%s = %q, want %q", hAction, a, tt.wantAction)
			}
			checkBody(t, got.body, tt.want, nil)
		})
	}
}

// TestCSRFField checks that every form carries the gateway's CSRF token
// when, and only when, the gateway sends one.
func TestCSRFField(t *testing.T) {
	s := newServer(t, shop.Config{})
	pages := []struct {
		name string
		path string
		hdr  map[string]string
		form string // the form's opening, up to where the field goes
		end  string // what follows the field
	}{
		{"product", "/products/1", nil, `<form method="post" action="/cart/add"><input type="hidden" name="product" value="1">`, `<button id="add">Add to cart</button></form>`},
		{"checkout", "/checkout", map[string]string{hSession: "cart=1"}, `<form method="post" action="/checkout">`, `<button id="place-order">Place order</button></form>`},
		{"account logout", "/account", map[string]string{hUser: "alice"}, `<form method="post" action="/logout">`, `<button id="logout">Log out</button></form>`},
	}
	gateways := []struct {
		name  string
		hdr   map[string]string
		field string // "" = no field expected
	}{
		{"no token", nil, ""},
		{"token and field", map[string]string{hCSRF: "tok-123", hField: "csrf_token"}, `<input type="hidden" name="csrf_token" value="tok-123">`},
		{"custom field name", map[string]string{hCSRF: "tok-123", hField: "_xsrf"}, `<input type="hidden" name="_xsrf" value="tok-123">`},
		{"token without field name", map[string]string{hCSRF: "tok-123"}, `<input type="hidden" name="csrf_token" value="tok-123">`},
		{"field name without token", map[string]string{hField: "_xsrf"}, ""},
	}
	for _, p := range pages {
		for _, g := range gateways {
			t.Run(p.name+"/"+g.name, func(t *testing.T) {
				hdr := map[string]string{}
				maps.Copy(hdr, p.hdr)
				maps.Copy(hdr, g.hdr)
				got := s.do(t, req{path: p.path, hdr: hdr})
				if got.code != 200 {
					t.Fatalf("status = %d\nbody:\n%s", got.code, got.body)
				}
				want := p.form + g.field + p.end
				absent := []string{"tok-123", "_xsrf", "csrf_token"}
				if g.field != "" {
					absent = nil
				}
				checkBody(t, got.body, []string{want}, absent)
			})
		}
	}
}

// TestEscaping checks that hostile values from the gateway and the
// configuration are HTML-escaped wherever they appear.
func TestEscaping(t *testing.T) {
	const evil = `<script>alert(1)</script>`
	const attrEvil = `"><script>alert(1)</script>`
	s := newServer(t, shop.Config{Name: evil, AdminUser: evil})
	hostile := map[string]string{hUser: evil, hRef: evil, hSecure: "1", hCSRF: attrEvil, hField: attrEvil, hSession: "cart=1"}
	for _, path := range []string{"/", "/products/1", "/cart", "/checkout", "/account", "/admin", "/products/99"} {
		t.Run(path, func(t *testing.T) {
			got := s.do(t, req{path: path, hdr: hostile})
			if got.code >= 500 {
				t.Fatalf("status = %d", got.code)
			}
			checkBody(t, got.body, []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}, []string{"<script>"})
		})
	}
	t.Run("user on account page", func(t *testing.T) {
		got := s.do(t, req{path: "/account", hdr: hostile})
		checkBody(t, got.body, []string{"Signed in as &lt;script&gt;alert(1)&lt;/script&gt;", "Session ref: <code>&lt;script&gt;"}, nil)
	})
	t.Run("product names", func(t *testing.T) {
		s := newServer(t, shop.Config{Products: []shop.Product{{ID: 1, Name: evil, Description: evil}}})
		for _, path := range []string{"/", "/products/1"} {
			got := s.do(t, req{path: path, hdr: map[string]string{hSession: "cart=1"}})
			checkBody(t, got.body, []string{"&lt;script&gt;"}, []string{"<script>"})
		}
	})
}

// TestMalformedSession checks that bad session data from the gateway is
// decoded as far as possible, logged, and never fails the request.
func TestMalformedSession(t *testing.T) {
	tests := []struct {
		name    string
		session string
		want    string // the cart line
		wantLog string // "" = nothing logged
	}{
		{"well formed", "cart=1%2c2", "cart: 1,2", ""},
		{"bad pair among good ones", "cart=1%2c3&%zz=1&x=%g", "cart: 1,3", "malformed session header"},
		{"lone percent", "%", "cart: </p>", "malformed session header"},
		{"truncated escape in the cart", "cart=1%2", "cart: </p>", "malformed session header"},
		{"empty keys", "&&=1&==&cart=2", "cart: 2", "malformed session header"},
		{"unknown IDs in the cart", "cart=1%2cx%2c99%2c-1", "cart: 1</p>", "skipped unknown product IDs"},
		{"non-UTF-8 cart", "cart=%ff%fe", "cart: </p>", "skipped unknown product IDs"},
		{"huge cart number", "cart=99999999999999999999999", "cart: </p>", "skipped unknown product IDs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, shop.Config{})
			for _, path := range []string{"/cart", "/checkout"} {
				got := s.do(t, req{path: path, hdr: map[string]string{hSession: tt.session}})
				if got.code != 200 {
					t.Fatalf("GET %s: status = %d\nbody:\n%s", path, got.code, got.body)
				}
				checkBody(t, got.body, []string{tt.want}, nil)
			}
			log := s.log.String()
			if tt.wantLog == "" && log != "" {
				t.Errorf("logged %q; want nothing", log)
			}
			if tt.wantLog != "" {
				if !strings.Contains(log, tt.wantLog) || !strings.Contains(log, "level=WARN") {
					t.Errorf("log = %q; want a warning with %q", log, tt.wantLog)
				}
				if strings.Contains(log, "%zz") || strings.Contains(log, "99999") {
					t.Errorf("log = %q; it must not copy session data", log)
				}
			}
		})
	}
}

// TestConfig checks the configurable parts: site name, products, header
// names and the admin user.
func TestConfig(t *testing.T) {
	s := newServer(t, shop.Config{
		Name:     "outlet",
		Products: []shop.Product{{ID: 7, Name: "Widget", PriceCents: 5}, {ID: 9, Name: "Gadget"}},
		Headers: wire.Headers{
			Session:   "X-S",
			User:      "X-U",
			Ref:       "X-Ref",
			Secure:    "X-Sec",
			Replace:   "X-R",
			Action:    "X-A",
			CSRF:      "X-T",
			CSRFField: "X-TF",
		},
		AdminUser: "root",
	})
	tests := []struct {
		name     string
		req      req
		wantCode int
		wantHdr  map[string]string // response headers; "" = absent
		want     []string
		absent   []string
	}{
		{name: "site name", req: req{path: "/"}, wantCode: 200, want: []string{`<strong id="site"><a href="/">outlet</a></strong>`, `Widget</a><div class="price">0.05</div>`, `href="/products/9"`}, absent: []string{`href="/products/1"`}},
		{name: "configured product", req: req{path: "/products/7"}, wantCode: 200, want: []string{"<h1>Widget</h1>"}},
		{name: "default product is gone", req: req{path: "/products/1"}, wantCode: 404},
		{
			name:     "custom replace header",
			req:      req{method: http.MethodPost, path: "/cart/add", hdr: map[string]string{"X-S": "cart=7", hSession: "cart=9"}, form: url.Values{"product": {"9"}}},
			wantCode: 303,
			wantHdr:  map[string]string{"X-R": "cart=7%2c9", hReplace: ""},
		},
		{
			name:     "default headers are ignored",
			req:      req{path: "/account", hdr: map[string]string{hUser: "alice", hCSRF: "tok", hSecure: "1"}},
			wantCode: 200,
			want:     []string{"not signed in", "Transport: unknown."},
			absent:   []string{"alice"},
		},
		{
			name:     "custom user and CSRF headers",
			req:      req{path: "/account", hdr: map[string]string{"X-U": "alice", "X-T": "tok", "X-TF": "f", "X-Sec": "1", "X-Ref": "r1"}},
			wantCode: 200,
			want:     []string{"Signed in as alice", `<input type="hidden" name="f" value="tok">`, "Transport: HTTPS.", "Session ref: <code>r1</code>"},
		},
		{name: "default admin is not admin", req: req{path: "/admin", hdr: map[string]string{"X-U": "admin"}}, wantCode: 403},
		{name: "configured admin", req: req{path: "/admin", hdr: map[string]string{"X-U": "root"}}, wantCode: 200},
		{
			name:     "custom action header",
			req:      req{method: http.MethodPost, path: "/checkout", hdr: map[string]string{"X-S": "cart=7", "X-Sec": "0"}, form: url.Values{}},
			wantCode: 403,
			wantHdr:  map[string]string{"X-A": "require-secure", hAction: "", "X-R": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.do(t, tt.req)
			if got.code != tt.wantCode {
				t.Errorf("status = %d, want %d\nbody:\n%s", got.code, tt.wantCode, got.body)
			}
			for k, v := range tt.wantHdr {
				if g := got.hdr.Get(k); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
			checkBody(t, got.body, tt.want, tt.absent)
		})
	}
}

// TestConfigDoesNotAlias checks that New copies the product list.
func TestConfigDoesNotAlias(t *testing.T) {
	products := []shop.Product{{ID: 1, Name: "Original"}}
	s := newServer(t, shop.Config{Products: products})
	products[0].Name = "Changed"
	got := s.do(t, req{path: "/products/1"})
	checkBody(t, got.body, []string{"Original"}, []string{"Changed"})
}

func TestNewPanicsOnBadProducts(t *testing.T) {
	tests := []struct {
		name     string
		products []shop.Product
		want     string
	}{
		{"duplicate ID", []shop.Product{{ID: 1, Name: "a"}, {ID: 1, Name: "b"}}, "used twice"},
		{"zero ID", []shop.Product{{ID: 0, Name: "a"}}, "must be ≥ 1"},
		{"negative ID", []shop.Product{{ID: -3, Name: "a"}}, "must be ≥ 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, tt.want) {
					t.Errorf("panic = %v, want one containing %q", r, tt.want)
				}
			}()
			shop.New(shop.Config{Products: tt.products})
		})
	}
}

func TestDefaultProducts(t *testing.T) {
	ps := shop.DefaultProducts()
	if len(ps) < 3 {
		t.Fatalf("%d default products, want at least 3", len(ps))
	}
	for i, p := range ps {
		t.Run(p.Name, func(t *testing.T) {
			if p.ID != i+1 {
				t.Errorf("ID = %d, want %d (IDs are 1..n)", p.ID, i+1)
			}
			if p.Name == "" || p.PriceCents <= 0 {
				t.Errorf("incomplete product %+v", p)
			}
		})
	}
	ps[0].Name = "changed"
	if shop.DefaultProducts()[0].Name == "changed" {
		t.Error("DefaultProducts returns a shared slice")
	}
}

func TestReplaceHeader(t *testing.T) {
	tests := []struct {
		name    string
		set     map[string]string
		del     []string
		want    string
		wantSet map[string]string
	}{
		{name: "nothing", want: "", wantSet: map[string]string{}},
		{name: "set", set: map[string]string{"cart": "1,3"}, want: "cart=1%2c3", wantSet: map[string]string{"cart": "1,3"}},
		{name: "delete", del: []string{"cart"}, want: "cart=", wantSet: map[string]string{}},
		{name: "set and delete", set: map[string]string{"secure.last_order": "1,3"}, del: []string{"cart", "gone"},
			want: "secure.last_order=1%2c3&cart=&gone=", wantSet: map[string]string{"secure.last_order": "1,3"}},
		{name: "escaped keys and values", set: map[string]string{"a b": "x&y=z"}, del: []string{"c&d"},
			want: "a+b=x%26y%3dz&c%26d=", wantSet: map[string]string{"a b": "x&y=z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shop.ReplaceHeader(tt.set, tt.del...)
			if got != tt.want {
				t.Errorf("ReplaceHeader = %q, want %q", got, tt.want)
			}
			c, err := wire.DecodeChanges(got)
			if err != nil || !maps.Equal(c.Set, tt.wantSet) || !slices.Equal(c.Delete, tt.del) {
				t.Errorf("DecodeChanges(%q) = %+v, %v; want set %v, delete %v", got, c, err, tt.wantSet, tt.del)
			}
		})
	}
}

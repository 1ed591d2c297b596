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

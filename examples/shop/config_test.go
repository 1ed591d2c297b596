package shop_test

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/examples/shop"
	"github.com/sessiond/sessiond/wire"
)

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

package shop_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/examples/shop"
)

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

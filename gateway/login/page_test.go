package login

import (
	"strings"
	"testing"
)

func TestRenderPage(t *testing.T) {
	var p Page
	p.Site, p.Token, p.Next = "shop", "tok", "/cart"
	p.Add(Offer{Buttons: []Button{{ID: "oidc", Label: "Sign in with Example", URL: "/.sessiond/oidc/start?next=%2Fcart"}}})
	p.Add(Offer{Password: true, Action: "/login", Remember: true})
	for _, tt := range []struct {
		name string
		page Page
		want []string
		not  []string
	}{
		{"both", p, []string{`id="oidc"`, `Sign in with Example`, `action="/login"`, `value="tok"`, `value="/cart"`, `id="remember"`}, nil},
		{"button only", Page{Site: "shop", Buttons: p.Buttons}, []string{`id="oidc"`}, []string{`id="login"`, `id="remember"`}},
		{"escaped", Page{Site: "shop", Password: true, User: `"><script>`}, []string{`&#34;&gt;&lt;script&gt;`}, []string{`"><script>`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := RenderPage(&b, tt.page); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("page lacks %s:\n%s", w, b.String())
				}
			}
			for _, w := range tt.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("page has %s:\n%s", w, b.String())
				}
			}
		})
	}
}

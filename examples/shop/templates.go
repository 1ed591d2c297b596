package shop

// layoutHTML is the shared layout. Each page defines "content"; "csrf" is
// the gateway's hidden CSRF field, empty when the gateway sent no token.
// html/template escapes every value, header values included.
const layoutHTML = `{{define "layout"}}<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Title}} — {{.Site}}</title></head>
<body>
<header><strong id="site">{{.Site}}</strong>
<nav><a href="/">Products</a> | <a href="/cart">Cart</a> | <a href="/checkout">Checkout</a> | <a href="/account">Account</a></nav>
</header>
<main>
<h1>{{.Title}}</h1>
{{template "content" .}}
</main>
</body>
</html>
{{end}}
{{define "csrf"}}{{with .CSRF}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}{{end}}
{{define "cartlist"}}<ul id="cart">{{range .Cart}}<li data-product="{{.ID}}">{{.ID}} — {{.Name}}</li>{{end}}</ul>
{{if not .Cart}}<p>Your cart is empty.</p>
{{end}}<p id="cart-line">cart: {{.CartLine}}</p>
{{end}}`

// pageHTML holds each page's "content".
var pageHTML = map[string]string{
	"home": `{{define "content"}}<ul id="products">
{{range .Products}}<li data-product="{{.ID}}"><a href="/products/{{.ID}}">{{.Name}}</a> — {{.Price}}</li>
{{end}}</ul>
{{end}}`,

	"product": `{{define "content"}}<p>{{.Product.Description}}</p>
<p>Price: {{.Product.Price}}</p>
<form method="post" action="/cart/add"><input type="hidden" name="product" value="{{.Product.ID}}">{{template "csrf" .}}<button>Add to cart</button></form>
{{end}}`,

	"cart": `{{define "content"}}{{template "cartlist" .}}<p><a href="/checkout">Go to checkout</a></p>
{{end}}`,

	"checkout": `{{define "content"}}{{if .User}}<p id="user">Signed in as {{.User}}</p>
{{else}}<p id="user">Not signed in: you may order as a guest, or <a href="/login">sign in</a>.</p>
{{end}}{{template "cartlist" .}}{{if .Cart}}<form method="post" action="/checkout">{{template "csrf" .}}<button>Place order</button></form>
{{end}}{{with .LastOrder}}<p id="last-order">last order: {{.}}</p>
{{end}}{{end}}`,

	"ordered": `{{define "content"}}<p>Thank you{{with .User}}, {{.}}{{end}}! Your order is placed.</p>
<ul id="order">{{range .Cart}}<li data-product="{{.ID}}">{{.ID}} — {{.Name}}</li>{{end}}</ul>
<p id="order-line">order: {{.Order}}</p>
<p id="cart-line">cart: </p>
{{end}}`,

	"account": `{{define "content"}}{{if .User}}<p id="user">Signed in as {{.User}}</p>
<form method="post" action="/logout">{{template "csrf" .}}<button>Log out</button></form>
<p><a href="/.sessiond/sessions">Your active sessions</a></p>
{{else}}<p id="user">You are not signed in. <a href="/login">Sign in</a></p>
{{end}}<p id="secure">secure: {{.Secure}}</p>
{{with .Ref}}<p id="ref">session ref: {{.}}</p>
{{end}}{{end}}`,

	"admin": `{{define "content"}}<p id="user">Signed in as {{.User}} (administrator)</p>
<table id="catalog"><tr><th>ID</th><th>Name</th><th>Price</th></tr>
{{range .Products}}<tr data-product="{{.ID}}"><td>{{.ID}}</td><td>{{.Name}}</td><td>{{.Price}}</td></tr>
{{end}}</table>
{{end}}`,

	"error": `{{define "content"}}<p id="error">{{.Message}}</p>
<p><a href="/">Back to the products</a></p>
{{end}}`,
}

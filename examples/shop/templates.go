package shop

// styleCSS is the shop's only stylesheet, served at /style.css. No fonts,
// images or scripts from anywhere else; narrow screens get one column.
const styleCSS = `*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f4f5f7}
a{color:#1f5fbf}
header.top{background:#1d2330;color:#fff}
header.top .bar{max-width:68rem;margin:0 auto;padding:.7rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}
#site{font-size:1.25rem;letter-spacing:.02em;margin-right:auto}
#site a{color:#fff;text-decoration:none}
header.top nav{display:flex;flex-wrap:wrap;gap:.2rem .9rem}
header.top nav a{color:#d8e2ff;text-decoration:none;padding:.15rem 0}
header.top nav a:hover{color:#fff;text-decoration:underline}
.layout{max-width:68rem;margin:0 auto;padding:1rem;display:grid;grid-template-columns:minmax(0,1fr) 22rem;gap:1rem;align-items:start}
@media (max-width:52rem){.layout{grid-template-columns:minmax(0,1fr)}}
main,.inspector{background:#fff;border:1px solid #dde1e8;border-radius:.5rem;padding:1rem 1.2rem}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem;margin:0 0 .6rem}
.banner{border-radius:.5rem;padding:.7rem 1rem;margin:0 0 1rem;border:1px solid}
.banner.why{background:#eaf2ff;border-color:#9fbef0}
.banner.off{background:#fff6e0;border-color:#e8c66a}
.banner.warn{background:#fdecec;border-color:#e6a1a1}
.grid{list-style:none;margin:0;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.8rem}
.card{border:1px solid #dde1e8;border-radius:.5rem;padding:.8rem}
.card a{font-weight:600;text-decoration:none}
.price{font-variant-numeric:tabular-nums;color:#40506a}
.lines{list-style:none;margin:0 0 .6rem;padding:0}
.lines li{display:flex;justify-content:space-between;gap:1rem;border-bottom:1px solid #eef0f4;padding:.35rem 0}
.muted,.ids{color:#5b6577;font-size:.9rem}
button,.button{font:inherit;background:#1f5fbf;color:#fff;border:0;border-radius:.4rem;padding:.5rem 1rem;cursor:pointer;text-decoration:none;display:inline-block}
button:hover,.button:hover{background:#174a96}
.actions{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center;margin-top:1rem}
.inspector{font-size:.92rem}
.inspector dl{display:grid;grid-template-columns:auto minmax(0,1fr);gap:.3rem .8rem;margin:0 0 .8rem}
.inspector dt{color:#5b6577}
.inspector dd{margin:0;overflow-wrap:anywhere}
.inspector code{background:#eef0f4;border-radius:.25rem;padding:0 .25rem}
.tag{display:inline-block;border-radius:.25rem;padding:0 .35rem;font-size:.8rem;font-weight:600}
.tag.https{background:#dff3e4;color:#17622d}
.tag.http{background:#fdecec;color:#8a1f1f}
.events{margin:0;padding-left:1.2rem}
.events li{margin:.3rem 0}
.events li.now{background:#fff6d6;border-radius:.3rem;padding:.15rem .3rem;margin-left:-.3rem}
.events time{color:#5b6577;font-weight:400;white-space:nowrap}
.result{border:1px solid #dde1e8;border-radius:.5rem;padding:.7rem 1rem;margin:.8rem 0}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eef0f4;padding:.4rem;text-align:left}
`

// layoutHTML is the shared layout. Each page defines "content"; "csrf" is
// the gateway's hidden CSRF field, empty when the gateway sent no token.
// html/template escapes every value, header values included.
const layoutHTML = `{{define "layout"}}<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}} — {{.Site}}</title><link rel="stylesheet" href="/style.css"></head>
<body id="page-{{.Page}}">
<header class="top"><div class="bar"><strong id="site"><a href="/">{{.Site}}</a></strong>
<nav><a href="/">Products</a>{{if .SessionsOn}} <a href="/cart">Cart</a> <a href="/checkout" id="nav-checkout">Checkout</a> <a href="/account">Account</a>{{end}}
{{- with .HTTPHome}} <a href="{{.}}" id="nav-http">Shop over HTTP</a>{{end}}
{{- with .SniffedLink}} <a href="{{.}}" id="nav-sniffed">Attacker's view</a>{{end}}</nav></div></header>
<div class="layout">
<main>
{{with .Info}}{{with .Why}}<p class="banner why" id="why" role="status">{{.}}</p>
{{end}}{{end}}{{if not .SessionsOn}}<p class="banner off" id="sessions-off">Sessions are off on this site: the gateway sets no cookie here, so there is no cart and no sign-in. This catalog only shows the products.</p>
{{end}}<h1>{{.Title}}</h1>
{{template "content" .}}
</main>
{{template "inspector" .}}
</div>
</body>
</html>
{{end}}
{{define "csrf"}}{{with .CSRF}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}{{end}}
{{define "cartlist"}}<ul id="cart" class="lines">{{range .Cart}}<li data-product="{{.ID}}"><span>{{.Name}}</span><span class="price">{{.Price}}</span></li>{{end}}</ul>
{{if not .Cart}}<p>Your cart is empty.</p>
{{end}}<p id="cart-line" class="ids">cart: {{.CartLine}}</p>
{{end}}
{{define "inspector"}}<aside class="inspector" id="inspector" aria-label="Session inspector">
<h2>Session inspector</h2>
{{with .Info}}{{if eq .Sessions "off"}}<p id="i-sessions">Sessions are off here: the gateway sent no session headers and will set no cookie.</p>
{{else}}<dl>
<dt>Transport</dt><dd id="i-transport">{{if eq .Transport "https"}}<span class="tag https">HTTPS</span> encrypted: only your browser and the gateway can read it{{else}}<span class="tag http">HTTP</span> plain text: anyone on the network can read this request{{end}}</dd>
<dt>Cookies sent</dt><dd id="i-cookies">{{range $i, $c := .Cookies}}{{if $i}}, {{end}}<code>{{$c}}</code>{{if eq $c $.Info.Ignored}} (ignored: a secure cookie over plain HTTP is never used){{end}}{{else}}none: no session yet{{end}}</dd>
<dt>Session</dt><dd id="i-mode">{{.ModeText}}</dd>
<dt>Visible</dt><dd id="i-visible">{{$.VisibleText}}</dd>
<dt>Hidden</dt><dd id="i-hidden">{{if eq .Partition "insecure"}}over HTTP the gateway hides the user and every <code>secure.*</code> key (your orders); they are kept, and shown again over HTTPS{{else}}nothing: the whole session is visible{{end}}</dd>
<dt>User</dt><dd id="i-user">{{if $.User}}{{$.User}}{{else if not $.Ref}}not signed in (no session yet){{else if eq .Partition "insecure"}}hidden over HTTP{{else}}not signed in{{end}}</dd>
<dt>Ref</dt><dd id="i-ref">{{with $.Ref}}<code>{{.}}</code> (stable across new IDs; not an ID){{else}}none{{end}}</dd>
</dl>
<h2>Last session events</h2>
{{if .Events}}<ol class="events" id="i-events">{{range .Events}}<li data-event="{{.Kind}}"{{if .Now}} class="now"{{end}}><b>{{.Name}}</b> {{.Sentence}} <time>{{.Ago}}</time></li>
{{end}}</ol>
{{else}}<p id="i-events" class="muted">None yet.</p>
{{end}}{{end}}{{else}}<p id="i-transport">Transport: {{if eq .Secure "1"}}HTTPS{{else if eq .Secure "0"}}HTTP{{else}}unknown{{end}}.</p>
{{with .Ref}}<p id="i-ref">Session ref: <code>{{.}}</code></p>
{{end}}<p class="muted">The gateway sent no X-Session-Info header (its site setting <code>inspect</code> is off), so there is nothing more to show.</p>
{{end}}</aside>
{{end}}`

// pageHTML holds each page's "content".
var pageHTML = map[string]string{
	"home": `{{define "content"}}<ul id="products" class="grid">
{{range .Products}}<li class="card" data-product="{{.ID}}"><a href="/products/{{.ID}}">{{.Name}}</a><div class="price">{{.Price}}</div><div class="muted">{{.Description}}</div></li>
{{end}}</ul>
{{end}}`,

	"product": `{{define "content"}}<p>{{.Product.Description}}</p>
<p class="price">Price: {{.Product.Price}}</p>
{{if .SessionsOn}}<form method="post" action="/cart/add"><input type="hidden" name="product" value="{{.Product.ID}}">{{template "csrf" .}}<button id="add">Add to cart</button></form>
{{end}}<p><a href="/">All products</a></p>
{{end}}`,

	"cart": `{{define "content"}}{{template "cartlist" .}}<div class="actions">{{if .Cart}}<a class="button" href="/checkout" id="checkout">Go to checkout</a>{{end}}<a href="/">Continue shopping</a></div>
{{end}}`,

	"checkout": `{{define "content"}}{{if .User}}<p id="user">Signed in as {{.User}}</p>
{{else}}<p id="user">Not signed in: you may order as a guest, or <a href="/login?next=%2Fcheckout" id="signin">sign in</a>.</p>
{{end}}{{template "cartlist" .}}{{if .Cart}}<form method="post" action="/checkout">{{template "csrf" .}}<button id="place-order">Place order</button></form>
{{end}}{{with .LastOrder}}<p id="last-order">last order: {{.}}</p>
{{end}}{{end}}`,

	"ordered": `{{define "content"}}<p>Thank you{{with .User}}, {{.}}{{end}}! Your order is placed.</p>
<ul id="order" class="lines">{{range .Cart}}<li data-product="{{.ID}}"><span>{{.Name}}</span><span class="price">{{.Price}}</span></li>{{end}}</ul>
<p id="order-line" class="ids">order: {{.Order}}</p>
<p id="cart-line" class="ids">cart: </p>
{{end}}`,

	"account": `{{define "content"}}{{if .User}}<p id="user">Signed in as {{.User}}</p>
<div class="actions"><form method="post" action="/logout">{{template "csrf" .}}<button id="logout">Log out</button></form>
<a href="/.sessiond/sessions" id="sessions-link">Your active sessions</a></div>
{{else}}<p id="user">You are not signed in. <a href="/login?next=%2Faccount" id="signin">Sign in</a></p>
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

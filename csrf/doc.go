// Package csrf refuses cross-site request forgery in two independent layers.
//
// Layer 1 (origin.go) is Go's [http.CrossOriginProtection]: a request with an
// unsafe method is refused when the browser says it comes from another
// origin, through Sec-Fetch-Site or, for browsers that do not send it, an
// Origin header whose host differs from the Host header. It needs no state
// and protects every route, forms and fetch() alike.
//
// Layer 2 (token.go) is a synchronizer token bound to the session: a
// 32-byte secret kept in the session under a reserved key, handed to
// templates masked afresh on every call, and required on every unsafe
// request in the form field "csrf_token" or the header "X-CSRF-Token". It
// still holds where layer 1 cannot decide: old browsers, plain-HTTP origins
// that have to be trusted, and anything that strips the fetch metadata.
//
// # Wiring
//
// The token layer reads and writes the session through the two-method
// [Store] interface, so this package does not depend on a session manager.
// With package session, wrap the csrf handler inside the session handler
// (the session must already be in the context):
//
//	p, err := csrf.New(csrf.Config{
//		Session: func(r *http.Request) csrf.Store {
//			if s := session.FromContext(r.Context()); s != nil {
//				return s
//			}
//			return nil // no session: every unsafe request is refused
//		},
//	})
//	handler := sessions.Handler(p.Handler(mux))
//
// Templates take the hidden field with {{ csrfField .Request }} once
// [FuncMap] has been added to them; JavaScript sends [Token] in the
// X-CSRF-Token header.
//
// # What this package does not do
//
// GET, HEAD and OPTIONS are never checked: they must not change state. A
// cross-site GET to a mutating route (an <img src="/cart/add?product=1">)
// is not a CSRF hole this package can close; register mutating routes with
// a method ("POST /cart/add") so that net/http answers a GET with 405.
//
// # Plain HTTP, proxies and mixed HTTP/HTTPS sites
//
// Browsers send Sec-Fetch-Site only to potentially trustworthy origins
// (HTTPS, and http://localhost and *.localhost). On plain HTTP elsewhere
// layer 1 falls back to comparing the Origin header with the Host header,
// which works without any configuration as long as the Host header that
// reaches this handler is the one the browser sent. Behind a reverse proxy
// the proxy must preserve Host (with httputil.ReverseProxy's Rewrite: call
// r.SetURL(target) and then set r.Out.Host = r.In.Host; the sessiond gateway
// does this). If the Host header is rewritten, same-origin POSTs from
// browsers without Sec-Fetch-Site are refused — the check fails closed,
// never open. Do not "fix" that by trusting X-Forwarded-Host: add the
// public origin with [Config.TrustedOrigins] instead.
//
// One site served over both schemes, for example http://shop.localhost:8080
// and https://shop.localhost:8443, is two origins. A form on the HTTP page
// that posts to the HTTPS origin is a cross-origin request, and since sites
// are schemeful (Fetch Metadata, Chrome since 2019) the browser labels it
// Sec-Fetch-Site: cross-site, not same-site. [http.CrossOriginProtection]
// refuses every Sec-Fetch-Site value other than "same-origin" and "none" —
// "same-site" included, so a sibling subdomain is refused too — unless the
// exact Origin value is trusted. So to let HTTP pages post to the HTTPS
// origin, list the HTTP origin exactly as the browser writes it, scheme and
// non-default port included:
//
//	TrustedOrigins: []string{"http://shop.localhost:8080"}
//
// and, if HTTPS pages post to the HTTP origin, also "https://shop.localhost:8443".
// A production site on default ports lists "http://shop.example" (never
// ":80"). Trusting an HTTP origin lets anyone who can rewrite that origin's
// pages (anyone on the network path) pass layer 1; layer 2 is then what
// protects the HTTPS side. With the default [Config.SessionKey]
// "secure.csrf" the secret lives in the secure partition of a mixed-mode
// session, which plain-HTTP pages cannot read, so an HTTP page cannot hold
// a token the HTTPS side accepts: posting credentials or orders from an
// HTTP page to HTTPS stays refused. HTTP-only forms (the cart) need their
// own Protection with a SessionKey outside the secure partition, such as
// "csrf", whose token is only as strong as plain HTTP.
//
// WebSocket handshakes have no token layer, so [Protection.CheckWebSocket]
// never lets a plain-HTTP page open a WebSocket over HTTPS, not even a
// trusted HTTP origin of the same host: the handshake would carry the
// secure cookie. Behind a TLS terminator, list it in
// [Config.TrustedProxies] so that the check (and the audit's client
// address) sees what the proxy saw.
//
// # Concurrency
//
// A [Protection] is safe for concurrent use once built; [Protection.AddTrustedOrigin]
// may be called while it serves requests. The first call to [Token] in a
// session stores the secret; two first requests of one session that race
// each store a secret and the last write wins, so one of the two pages
// renders a token that no longer verifies. That costs one refused form
// and no security.
package csrf

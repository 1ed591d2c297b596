package demo

import (
	"context"
	"crypto/tls"
	"html"
	"html/template"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// SniffedPath is the demo's "attacker's view": a page in front of the
// gateway, on the shop's plain-HTTP origin, that does what a passive
// sniffer on the network could do with what it saw — the insecure cookie
// sid, which travels in clear text by design — and shows what that buys.
const SniffedPath = "/demo/sniffed"

// sniffer serves SniffedPath for host and passes everything else to next.
type sniffer struct {
	next      http.Handler
	host      string // shop.localhost
	cookie    string // the insecure cookie's name, "sid"
	httpBase  string // http://shop.localhost:8080
	httpsBase string // https://shop.localhost:8443
	client    *http.Client
}

func newSniffer(next http.Handler, host, cookie, httpBase, httpsBase, httpAddr, httpsAddr string) *sniffer {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		target := httpAddr
		if strings.HasSuffix(addr, ":"+portOf(httpsBase)) {
			target = httpsAddr
		}
		return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, target)
	}
	return &sniffer{next: next, host: host, cookie: cookie, httpBase: httpBase, httpsBase: httpsBase,
		client: &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{
				DialContext:       dial,
				TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the demo's own certificate, on loopback
				DisableKeepAlives: true,
			},
		}}
}

func portOf(base string) string {
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(base, "https://"), "http://"))
	return p
}

func (s *sniffer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if r.URL.Path != SniffedPath || !strings.EqualFold(host, s.host) {
		s.next.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		return
	}
	if r.TLS != nil {
		// A sniffer sees nothing inside TLS: show the page over plain HTTP.
		http.Redirect(w, r, s.httpBase+SniffedPath, http.StatusFound)
		return
	}
	page := sniffPage{HTTPBase: s.httpBase, HTTPSBase: s.httpsBase, Cookie: s.cookie}
	cs := r.CookiesNamed(s.cookie)
	if len(cs) == 1 {
		page.Seen = true
		page.IDLen = len(cs[0].Value)
		page.HTTP = s.replay(r.Context(), s.httpBase+"/cart", cs[0].Value)
		page.HTTPS = s.replay(r.Context(), s.httpsBase+"/checkout", cs[0].Value)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if err := sniffTmpl.Execute(w, page); err != nil {
		http.Error(w, "page error", http.StatusInternalServerError)
	}
}

type sniffPage struct {
	HTTPBase, HTTPSBase, Cookie string
	Seen                        bool
	IDLen                       int
	HTTP, HTTPS                 replayResult
}

// replayResult is what one replayed request got, read off the shop's page.
type replayResult struct {
	URL, Status, Err          string
	Cart, User, Events, Who   string
	Forked, Cookies, SignedIn bool
}

func (s *sniffer) replay(ctx context.Context, url, id string) replayResult {
	res := replayResult{URL: url}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	req.Header.Set("Cookie", s.cookie+"="+id) // exactly what went over the wire, nothing else
	req.Header.Set("User-Agent", "sniffer (sessiond demo)")
	resp, err := s.client.Do(req)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	res.Status = resp.Status
	page := string(body)
	res.Cart = strings.TrimPrefix(elementText(page, "cart-line"), "cart: ")
	res.User = elementText(page, "i-user")
	res.SignedIn = strings.Contains(elementText(page, "user"), "Signed in as")
	res.Events = elementText(page, "i-events")
	res.Forked = strings.Contains(page, `data-event="fork" class="now"`)
	res.Cookies = len(resp.Header.Values("Set-Cookie")) > 0
	return res
}

// elementText is the text of the element with the given id in a page the
// shop rendered (tags dropped, entities decoded, spaces collapsed).
func elementText(page, id string) string {
	re := regexp.MustCompile(`(?s)id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</(p|dd|ol|span|div)>`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], " ")
	return strings.Join(strings.Fields(html.UnescapeString(text)), " ")
}

var sniffTmpl = template.Must(template.New("sniffed").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Attacker's view — shop</title><link rel="stylesheet" href="/style.css"></head>
<body id="page-sniffed">
<header class="top"><div class="bar"><strong id="site"><a href="/">shop</a></strong>
<nav><a href="/">Products</a> <a href="/cart">Cart</a> <a href="/checkout">Checkout</a> <a href="/account">Account</a></nav></div></header>
<div class="layout"><main>
<h1>Attacker's view</h1>
<p>Someone on your network (open Wi-Fi, say) cannot read HTTPS, but reads every plain-HTTP request in full.
Your request for this page went over plain HTTP. This page does what such a <b>sniffer</b> could do with it:
take the cookie <code>{{.Cookie}}</code> off the wire and send it back, first over HTTP, then over HTTPS.</p>
{{if not .Seen}}<p class="banner warn" id="sniff-none">Your browser sent no <code>{{.Cookie}}</code> cookie with this request: there is nothing to sniff.
<a href="{{.HTTPBase}}/">Add something to the cart</a> over HTTP first, then come back.</p>
{{else}}<p id="sniff-seen">Seen on the wire: <code>{{.Cookie}}</code> ({{.IDLen}} characters; not shown here). Browsers send the secure cookie
<code>__Host-ssid</code> only over HTTPS, inside TLS, so the sniffer does not have it. (Chromium also sends it to
<code>http://*.localhost</code>, which it trusts; the gateway never uses a secure cookie that arrives over HTTP.)</p>
<section class="result" id="sniff-http"><h2>1. Replayed over HTTP: <code>{{.HTTP.URL}}</code></h2>
{{with .HTTP.Err}}<p class="banner warn">The replay failed: {{.}}</p>{{else}}
<p>Answer: {{.HTTP.Status}}. The sniffer sees the cart: <b id="sniff-http-cart">{{if .HTTP.Cart}}{{.HTTP.Cart}}{{else}}(empty){{end}}</b>.</p>
<p>User: <b id="sniff-http-user">{{.HTTP.User}}</b>. Over HTTP the gateway shows only the insecure partition: never who you are, never your orders.</p>{{end}}
</section>
<section class="result" id="sniff-https"><h2>2. Replayed over HTTPS: <code>{{.HTTPS.URL}}</code></h2>
{{with .HTTPS.Err}}<p class="banner warn">The replay failed: {{.}}</p>{{else}}
<p>Answer: {{.HTTPS.Status}}. {{if .HTTPS.Forked}}<b id="sniff-https-result">A fork.</b> Your session already has a secure ID, so the gateway did not hand the
sniffer your HTTPS side: it gave the sniffer a <i>new</i> session holding a copy of the cart only, and wrote an audit event.
{{else}}<b id="sniff-https-result">No fork.</b> Your session had not been on HTTPS yet, so this replay stepped it up and the
sniffer now holds its secure side: a cart, no account (sign-in happens only over HTTPS, with new IDs). Your next HTTPS request gets a fork.{{end}}</p>
<p>Cart in the sniffer's session: <b id="sniff-https-cart">{{if .HTTPS.Cart}}{{.HTTPS.Cart}}{{else}}(empty){{end}}</b>.
Signed in: <b id="sniff-https-user">{{if .HTTPS.SignedIn}}yes: the account was exposed{{else}}no: not the account{{end}}</b>.</p>{{end}}
</section>
<p>Your own browser keeps its cookies: <a href="{{.HTTPSBase}}/account">check your account over HTTPS</a>.</p>
{{end}}</main>
<aside class="inspector"><h2>Why this works</h2>
<p>In mixed mode the shop's pages stay on HTTP, so its cookie <code>{{.Cookie}}</code> must travel in clear text. sessiond makes it worth as
little as possible: over HTTP the user and every <code>secure.*</code> key are hidden, and a copy of <code>{{.Cookie}}</code> used over
HTTPS gets a fork rather than the secure side of the session.</p></aside>
</div></body></html>
`))

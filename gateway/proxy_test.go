package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/wire"
)

// What the proxy (httputil.ReverseProxy on an upstream.Transport) does
// with headers, 1xx responses, trailers and broken backends.

func TestProxyTrailersPassThrough(t *testing.T) {
	g := startWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	}))
	resp, err := g.client().Get(g.httpsURL + "/t")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "body" {
		t.Fatalf("body %q", body)
	}
	if got := resp.Trailer.Get("X-Checksum"); got != "abc" {
		t.Errorf("announced trailer X-Checksum = %q, want abc (trailers %v)", got, resp.Trailer)
	}
	if got := resp.Trailer.Get("X-Late"); got != "late" {
		t.Errorf("unannounced trailer X-Late = %q, want late (trailers %v)", got, resp.Trailer)
	}
}

func TestProxyEarlyHintsPassThrough(t *testing.T) {
	g := startWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "page")
	}))
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequest("GET", g.httpsURL+"/p", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := g.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "page" || resp.StatusCode != 200 {
		t.Fatalf("final response %d %q", resp.StatusCode, body)
	}
	if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" {
		t.Fatalf("1xx responses seen by the client: %q, want one 103 with its Link", hints)
	}
	if resp.Header.Get("Link") != "" {
		t.Errorf("the 103's Link leaked into the final response: %q", resp.Header.Get("Link"))
	}
}

// A 103 from the backend neither carries the gateway's cookies nor lets
// the backend set one, and it leaves the gateway's final headers whole:
// the session cookie arrives on the final response.
func TestEarlyHintsKeepGatewayHeaders(t *testing.T) {
	g := startWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/show" {
			io.WriteString(w, r.Header.Get("X-Session"))
			return
		}
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.Header().Add("Set-Cookie", "__Host-sid=planted; Path=/; Secure")
		w.Header().Add("Set-Cookie", "theme=dark")
		w.Header().Set("X-Replace-Session", "early=1")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusEarlyHints)
		clear(w.Header())
		w.Header().Set("X-Replace-Session", "cart=7")
		io.WriteString(w, "page")
	}))
	var hints []textproto.MIMEHeader
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, h)
		return nil
	}}
	req, _ := http.NewRequest("GET", g.httpsURL+"/p", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := g.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if len(hints) != 2 {
		t.Fatalf("%d 1xx responses reached the client, want 2", len(hints))
	}
	for _, h := range hints {
		if got := h.Values("Set-Cookie"); len(got) != 1 || got[0] != "theme=dark" {
			t.Errorf("103 Set-Cookie = %q, want only the backend's theme=dark", got)
		}
		if h.Get("X-Replace-Session") != "" || h.Get("Link") == "" {
			t.Errorf("103 headers %v: want the Link and no protocol header", h)
		}
	}
	var sid *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-sid" {
			sid = c
		}
	}
	if sid == nil || sid.Value == "planted" {
		t.Fatalf("final response cookies %v: want the gateway's new __Host-sid", resp.Cookies())
	}
	if cc := resp.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" {
		t.Errorf("final Cache-Control %q, want the gateway's no-store", cc)
	}
	_, body := g.do(g.client(), "GET", g.httpsURL+"/show", nil, http.Header{"Cookie": {"__Host-sid=" + sid.Value}})
	if body != "cart=7" {
		t.Errorf("session after the response: %q, want cart=7 (the final response's update only)", body)
	}
}

func TestProxyHopByHopAndForwardedHeaders(t *testing.T) {
	seen := make(chan http.Header, 1)
	g := startWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		h.Set("X-Uri", r.RequestURI)
		seen <- h
		w.Header().Set("Connection", "X-Backend-Hop")
		w.Header().Set("X-Backend-Hop", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Kept", "yes")
	}))
	req, _ := http.NewRequest("GET", g.httpsURL+"/a/b%20c?q=1&r=%20", nil)
	req.Header.Set("Connection", "X-Client-Hop")
	req.Header.Set("X-Client-Hop", "secret")
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("X-Forwarded-Proto", "gopher")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("Forwarded", "for=6.6.6.6")
	req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	req.Header.Set("X-Plain", "kept")
	resp, err := g.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	h := <-seen
	for _, k := range []string{"X-Client-Hop", "Forwarded", "Proxy-Authorization"} {
		if v := h.Get(k); v != "" {
			t.Errorf("backend received hop-by-hop or spoofed %s: %q", k, v)
		}
	}
	want := map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https",
		"X-Forwarded-Host": testHost + ":" + portOf(g.httpsURL), "Host": testHost + ":" + portOf(g.httpsURL),
		"X-Plain": "kept", "X-Uri": "/a/b%20c?q=1&r=%20"}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("backend received %s = %q, want [%q]", k, got, v)
		}
	}
	if resp.Header.Get("X-Backend-Hop") != "" || resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("hop-by-hop response headers reached the client: %v", resp.Header)
	}
	if resp.Header.Get("X-Kept") != "yes" {
		t.Errorf("an end-to-end response header was dropped: %v", resp.Header)
	}
}

// A backend that closes idle keep-alive connections: the next request
// must not fail (it is retried once on a new connection).
func TestProxyUpstreamClosedIdleConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				// Claims keep-alive, then closes right after answering.
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
			}()
		}
	}()
	u, _ := url.Parse("http://" + ln.Addr().String())
	g := startGateway(t, func(sc *config.Site) { sc.Upstream = u.String() })
	c := g.client()
	for i := range 5 {
		path := fmt.Sprintf("/r%d", i)
		resp, body := g.do(c, "GET", g.httpsURL+path, nil, nil)
		if resp.StatusCode != 200 || body != path {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		time.Sleep(20 * time.Millisecond) // let the close arrive
	}
	if conns.Load() < 5 {
		t.Fatalf("%d upstream connections for 5 requests on a backend that closes each", conns.Load())
	}
}

// A body that breaks off must not reach the client as a complete one.
func TestProxyTruncatedBodyAborts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
			}()
		}
	}()
	u, _ := url.Parse("http://" + ln.Addr().String())
	g := startGateway(t, func(sc *config.Site) { sc.Upstream = u.String() })
	resp, err := g.client().Get(g.httpsURL + "/x")
	if err != nil {
		return // the connection was aborted: fine
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("client read a complete %d-byte body %q from a truncated upstream response", len(body), body)
	}
}

func TestProxyHeadAndKeepAlive(t *testing.T) {
	var conns atomic.Int32
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		if r.Method != http.MethodHead {
			io.WriteString(w, "hello")
		}
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	g := startGateway(t, func(sc *config.Site) { sc.Upstream = up.URL })
	c := g.client()
	for i := range 20 {
		method := "GET"
		if i%2 == 1 {
			method = "HEAD"
		}
		resp, body := g.do(c, method, g.httpsURL+"/k", nil, nil)
		if resp.StatusCode != 200 || (method == "GET" && body != "hello") || (method == "HEAD" && body != "") {
			t.Fatalf("%s: %d %q", method, resp.StatusCode, body)
		}
		if resp.ContentLength != 5 {
			t.Fatalf("%s: Content-Length %d, want 5", method, resp.ContentLength)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d upstream connections for 20 sequential requests, want 1 (keep-alive reuse)", n)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	u, _ := url.Parse("http://" + addr)
	g := startGateway(t, func(sc *config.Site) { sc.Upstream = u.String() })
	resp, body := g.do(g.client(), "GET", g.httpsURL+"/", nil, nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "not answering") || !strings.Contains(body, `<a href="/" id="home">`) {
		t.Fatalf("upstream down: %d %q, want 502 on the error page with a link home", resp.StatusCode, body)
	}
}

// Requests with a body still go through (ReverseProxy's path).
func TestBodyRequestsForwarded(t *testing.T) {
	g := startWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Header.Get("X-Forwarded-Proto"), b)
	}))
	c := g.client()
	resp, body := g.do(c, "POST", g.httpsURL+"/p", url.Values{"a": {"1"}}, http.Header{"Origin": {g.httpsURL}})
	if resp.StatusCode != 200 || body != "POST https a=1" {
		t.Fatalf("POST: %d %q", resp.StatusCode, body)
	}
}

// isProtocol's allocation-free comparison agrees with headerKey's.
func TestIsProtocolMatchesHeaderKey(t *testing.T) {
	h := siteHeaders(wire.Headers{User: "X-Remote-Ident", Replace: "X-App-Update"})
	names := []string{"X-Session", "x_session_user", "X-SESSION-ANYTHING", "Session", "SESSION", "sessions", "X-Replace-Session",
		"x-replace_session-extra", "X-Remote-Ident", "x_remote_ident", "X-Remote-Identity", "X-App-Update", "X_APP_UPDATE",
		"X-Sessio", "Content-Type", "X-\u212Aey", "X-Sess\u0130on", "", "x"}
	for _, n := range names {
		want := isProtocolKey(h, headerKey(n))
		if got := isProtocol(h, n); got != want {
			t.Errorf("isProtocol(%q) = %v, headerKey comparison says %v", n, got, want)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { isProtocol(h, "X-Forwarded-For") }); allocs != 0 {
		t.Errorf("isProtocol allocates %v times per call", allocs)
	}
}

// appendHeaderKey, which the spoofing checks use, is headerKey, ASCII or
// not, short or longer than its stack buffer; and it does not allocate
// for the names HTTP allows.
func TestAppendHeaderKeyIsHeaderKey(t *testing.T) {
	names := []string{"X-Session", "x_session_user", "X_Forwarded_For", "FORWARDED", "X-Real-IP", "Remote_User",
		"X-\u212Aey", "X-Sess\u0130on", "\u212A", "", "x", strings.Repeat("X_Long-", 20)}
	for _, n := range names {
		if got, want := string(appendHeaderKey(nil, n)), headerKey(n); got != want {
			t.Errorf("appendHeaderKey(%q) = %q, headerKey = %q", n, got, want)
		}
	}
	var buf [keyBufLen]byte
	if allocs := testing.AllocsPerRun(100, func() { appendHeaderKey(buf[:0], "X-Forwarded-For") }); allocs != 0 {
		t.Errorf("appendHeaderKey allocates %v times per call", allocs)
	}
}

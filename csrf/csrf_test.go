package csrf_test

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/csrf"
)

// TestAttacksAndLegitimateRequests sends each request to a real server with
// a real cookie jar. A refused request must get the 403 page, leave the
// cart as it was, be audited with its reason and never with the token, and
// leave the victim's own token working afterwards.
func TestAttacksAndLegitimateRequests(t *testing.T) {
	srv := newServer(t, csrf.Config{})
	base := srv.URL
	host := strings.TrimPrefix(base, "http://")

	victim := newClient(t)
	tok := formToken(t, victim, base)
	other := newClient(t)
	otherTok := formToken(t, other, base)

	tampered := []byte(tok)
	tampered[40] ^= 'A' ^ 'B'
	if tampered[40] == tok[40] {
		t.Fatal("tamper did not change the token")
	}

	type req struct {
		method string
		path   string
		form   url.Values
		hdr    http.Header
		client *http.Client
	}
	post := func(f url.Values, h http.Header) req {
		return req{method: "POST", path: "/cart/add", form: f, hdr: h}
	}
	withTok := func(t string) url.Values { return url.Values{"product": {"1"}, "csrf_token": {t}} }

	tests := []struct {
		name   string
		req    req
		want   int
		reason string // audit reason when refused
	}{
		// Layer 1: the browser says the request is cross-origin; a valid
		// token does not make it acceptable.
		{"cross-site POST with Sec-Fetch-Site, valid token", post(withTok(tok), http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}), 403, "cross_origin"},
		{"foreign Origin without Sec-Fetch-Site (old browser)", post(withTok(tok), http.Header{"Origin": {"https://evil.example"}}), 403, "cross_origin"},
		{"same-site sibling origin", post(withTok(tok), http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://evil." + host}}), 403, "cross_origin"},
		{"Origin null (sandboxed frame)", post(withTok(tok), http.Header{"Origin": {"null"}}), 403, "cross_origin"},

		// Layer 2: the request looks same-origin (or carries no browser
		// metadata) but does not prove it came from the victim's page.
		{"POST without token", post(url.Values{"product": {"1"}}, nil), 403, "token_missing"},
		{"token of another session", post(withTok(otherTok), nil), 403, "token_invalid"},
		{"tampered token", post(withTok(string(tampered)), nil), 403, "token_invalid"},
		{"truncated token", post(withTok(tok[:csrf.TokenLen-1]), nil), 403, "token_invalid"},
		{"token with padding", post(withTok(tok[:csrf.TokenLen-2]+"=="), nil), 403, "token_invalid"},
		{"secret-sized random value", post(withTok(strings.Repeat("A", 43)), nil), 403, "token_invalid"},
		{"token only in the URL query", req{method: "POST", path: "/cart/add?csrf_token=" + url.QueryEscape(tok), form: url.Values{"product": {"1"}}}, 403, "token_missing"},
		{"victim token without victim cookie", req{method: "POST", path: "/cart/add", form: withTok(tok), client: &http.Client{}}, 403, "token_invalid"},
		{"PUT without header", req{method: "PUT", path: "/cart"}, 403, "token_missing"},

		// Legitimate requests.
		{"same-origin form post", post(withTok(tok), http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {base}}), 200, ""},
		{"old browser, Origin equals Host over plain HTTP", post(withTok(tok), http.Header{"Origin": {base}}), 200, ""},
		{"non-browser client, token in header", post(url.Values{"product": {"1"}}, http.Header{"X-Csrf-Token": {tok}}), 200, ""},
		{"PUT with header token", req{method: "PUT", path: "/cart", hdr: http.Header{"X-Csrf-Token": {tok}}}, 200, ""},
		{"DELETE with header token", req{method: "DELETE", path: "/cart", hdr: http.Header{"X-Csrf-Token": {tok}}}, 200, ""},
		{"GET needs no token, even cross-site", req{method: "GET", path: "/cart", hdr: http.Header{"Sec-Fetch-Site": {"cross-site"}}}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.req.client
			if c == nil {
				c = victim
			}
			before := cart(t, victim, base)
			nEvents := len(srv.audit.Events())

			body, code := do(t, c, tc.req.method, base+tc.req.path, tc.req.form, tc.req.hdr)
			if code != tc.want {
				t.Fatalf("status %d, want %d; body %q", code, tc.want, body)
			}
			events := srv.audit.Events()[nEvents:]
			if tc.want == 200 {
				if len(events) != 0 {
					t.Fatalf("accepted request audited: %+v", events)
				}
				return
			}

			if !strings.Contains(body, "Request refused") || strings.Contains(body, tok) {
				t.Errorf("refusal page = %q", body)
			}
			if after := cart(t, victim, base); after != before {
				t.Errorf("cart changed from %s to %s by a refused request", before, after)
			}
			if len(events) != 1 || events[0].Type != "csrf.refused" {
				t.Fatalf("audit events = %+v, want one csrf.refused", events)
			}
			attrs := map[string]string{}
			for _, a := range events[0].Attrs {
				attrs[a.Key] = a.Value.String()
				if strings.Contains(a.Value.String(), tok[:20]) || strings.Contains(a.Value.String(), otherTok[:20]) {
					t.Errorf("audit attr %s leaks a token", a.Key)
				}
			}
			if attrs["reason"] != tc.reason || attrs["method"] != tc.req.method || attrs["path"] != strings.SplitN(tc.req.path, "?", 2)[0] {
				t.Errorf("audit attrs = %v, want reason %q", attrs, tc.reason)
			}
			// Nothing lost: the victim's own token still works.
			if _, code := do(t, victim, "POST", base+"/cart/add", withTok(tok), nil); code != 200 {
				t.Errorf("victim's token refused after the attack: %d", code)
			}
		})
	}
}

// TestTokenMaskedPerRender: the token changes on every render (BREACH) and
// every rendering verifies.
func TestTokenMaskedPerRender(t *testing.T) {
	srv := newServer(t, csrf.Config{})
	c := newClient(t)
	seen := map[string]bool{}
	for range 5 {
		seen[formToken(t, c, srv.URL)] = true
	}
	if len(seen) != 5 {
		t.Fatalf("5 renders gave %d distinct tokens", len(seen))
	}
	for tok := range seen {
		form := url.Values{"csrf_token": {tok}}
		if body, code := do(t, c, "POST", srv.URL+"/cart/add", form, nil); code != 200 {
			t.Fatalf("rendered token refused: %d %s", code, body)
		}
	}
	if got := cart(t, c, srv.URL); got != "5" {
		t.Fatalf("cart = %s, want 5", got)
	}
}

// TestNoSessionFailsClosed: without a session there is nothing to check a
// token against, so unsafe requests are refused (and Token is empty).
func TestNoSessionFailsClosed(t *testing.T) {
	var nilSession *struct{ memSession }
	tests := []struct {
		name    string
		session func(*http.Request) csrf.Store
	}{
		{"Session returns nil", func(*http.Request) csrf.Store { return nil }},
		{"Session returns a typed nil pointer", func(*http.Request) csrf.Store { return nilSession }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, csrf.Config{Session: tc.session})
			c := newClient(t)
			if body, _ := do(t, c, "GET", srv.URL+"/token", nil, nil); body != "" {
				t.Fatalf("Token without a session = %q", body)
			}
			_, code := do(t, c, "POST", srv.URL+"/cart/add", url.Values{"csrf_token": {strings.Repeat("A", csrf.TokenLen)}}, nil)
			if code != 403 {
				t.Fatalf("status %d, want 403", code)
			}
			ev := srv.audit.Events()
			if len(ev) != 1 || ev[0].Attrs[0].Value.String() != "no_session" {
				t.Fatalf("audit = %+v", ev)
			}
		})
	}
}

// partitioned drops keys under "secure." like a mixed-mode session over
// plain HTTP.
type partitioned struct{ memSession }

func (p *partitioned) Set(k, v string) {
	if !strings.HasPrefix(k, "secure.") {
		p.memSession.Set(k, v)
	}
}

// TestSecurePartitionOverHTTP: when the session cannot keep the secret,
// Token hands out nothing rather than a token that cannot verify, and the
// post is refused; a key outside the partition works.
func TestSecurePartitionOverHTTP(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want int
	}{
		{"default key in the secure partition", "", 403},
		{"insecure key for HTTP forms", "csrf", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &partitioned{memSession{m: map[string]string{}}}
			p, err := csrf.New(csrf.Config{SessionKey: tc.key, Session: func(*http.Request) csrf.Store { return s }})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(p.Handler(shop2(s)))
			defer srv.Close()
			c := newClient(t)
			tok, _ := do(t, c, "GET", srv.URL+"/token", nil, nil)
			_, code := do(t, c, "POST", srv.URL+"/cart/add", url.Values{"csrf_token": {tok}}, nil)
			if code != tc.want {
				t.Fatalf("status %d, want %d (token %d chars)", code, tc.want, len(tok))
			}
		})
	}
}

// shop2 serves /token and POST /cart/add for a single fixed session.
func shop2(s *partitioned) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(csrf.Token(r))) })
	mux.HandleFunc("POST /cart/add", func(w http.ResponseWriter, r *http.Request) { s.cart++ })
	return mux
}

// TestRotate: after a privilege change the old tokens are dead.
func TestRotate(t *testing.T) {
	ss := &sessions{}
	p, err := csrf.New(csrf.Config{Session: sessionOf})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", shop())
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) { p.Rotate(r) })
	srv := httptest.NewServer(ss.wrap(p.Handler(mux)))
	defer srv.Close()
	c := newClient(t)
	old := formToken(t, c, srv.URL)
	if _, code := do(t, c, "POST", srv.URL+"/login", url.Values{"csrf_token": {old}}, nil); code != 200 {
		t.Fatalf("login: %d", code)
	}
	if _, code := do(t, c, "POST", srv.URL+"/cart/add", url.Values{"csrf_token": {old}}, nil); code != 403 {
		t.Fatalf("pre-login token after Rotate: %d, want 403", code)
	}
	if _, code := do(t, c, "POST", srv.URL+"/cart/add", url.Values{"csrf_token": {formToken(t, c, srv.URL)}}, nil); code != 200 {
		t.Fatalf("fresh token after Rotate: %d, want 200", code)
	}
}

// TestZeroValue: the zero Protection is layer 1 alone.
func TestZeroValue(t *testing.T) {
	var p csrf.Protection
	srv := httptest.NewServer(p.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer srv.Close()
	tests := []struct {
		name string
		hdr  http.Header
		want int
	}{
		{"cross-site refused", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"same-origin passes without token", http.Header{"Sec-Fetch-Site": {"same-origin"}}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, code := do(t, http.DefaultClient, "POST", srv.URL, url.Values{}, tc.hdr); code != tc.want {
				t.Fatalf("status %d, want %d", code, tc.want)
			}
		})
	}
}

// TestBypassPattern: a bypass route skips both layers; nothing else does.
func TestBypassPattern(t *testing.T) {
	srv := newServer(t, csrf.Config{InsecureBypassPatterns: []string{"POST /hooks/pay"}})
	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://psp.example"}}
	tests := []struct {
		name, path string
		want       int
	}{
		{"exact bypass route", "/hooks/pay", 200},
		{"other route", "/cart/add", 403},
		{"path that would redirect to the route", "/hooks//pay", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, code := do(t, newClient(t), "POST", srv.URL+tc.path, url.Values{}, cross); code != tc.want {
				t.Fatalf("status %d, want %d", code, tc.want)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  csrf.Config
	}{
		{"origin without scheme", csrf.Config{TrustedOrigins: []string{"shop.localhost:8080"}}},
		{"origin with path", csrf.Config{TrustedOrigins: []string{"http://shop.localhost/x"}}},
		{"invalid pattern", csrf.Config{InsecureBypassPatterns: []string{"POST /{bad"}}},
		{"conflicting patterns", csrf.Config{InsecureBypassPatterns: []string{"/hooks/", "/hooks/"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := csrf.New(tc.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

// TestCustomDenyHandler gets the reason through Failure.
func TestCustomDenyHandler(t *testing.T) {
	var got error
	srv := newServer(t, csrf.Config{DenyHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = csrf.Failure(r)
		w.WriteHeader(http.StatusTeapot)
	})})
	if _, code := do(t, newClient(t), "POST", srv.URL+"/cart/add", url.Values{}, nil); code != http.StatusTeapot {
		t.Fatalf("status %d", code)
	}
	if !errors.Is(got, csrf.ErrTokenMissing) {
		t.Fatalf("Failure = %v", got)
	}
}

// TestRefusalPageReflectsNothing: hostile values in the path, query, body
// and headers never reach the page.
func TestRefusalPageReflectsNothing(t *testing.T) {
	srv := newServer(t, csrf.Config{})
	const marker = "<script>alert(1)</script>"
	tests := []struct {
		name string
		hdr  http.Header
	}{
		{"cross-origin", http.Header{"Origin": {"https://evil.example"}, "User-Agent": {marker}, "Referer": {"https://evil.example/" + marker}}},
		{"bad token", http.Header{"User-Agent": {marker}, "X-Csrf-Token": {marker}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", srv.URL+"/cart/add/"+url.PathEscape(marker)+"?q="+url.QueryEscape(marker),
				strings.NewReader("csrf_token="+url.QueryEscape(marker)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tc.hdr
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 403 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			want := map[string]string{"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if strings.Contains(string(body), "script") || strings.Contains(string(body), "alert") || strings.Contains(string(body), "evil") {
				t.Fatalf("page reflects request data: %s", body)
			}
		})
	}
}

// TestMultipartForm: an upload form carries the token as a multipart field,
// and the handler still finds the parsed form.
func TestMultipartForm(t *testing.T) {
	ss := &sessions{}
	p, err := csrf.New(csrf.Config{Session: sessionOf})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", shop())
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.FormValue("name"))
	})
	srv := httptest.NewServer(ss.wrap(p.Handler(mux)))
	defer srv.Close()
	c := newClient(t)
	tok := formToken(t, c, srv.URL)
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"with token", tok, 200},
		{"without token", "", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body strings.Builder
			mw := multipart.NewWriter(&body)
			if tc.token != "" {
				mw.WriteField("csrf_token", tc.token)
			}
			mw.WriteField("name", "photo.jpg")
			mw.Close()
			resp, err := c.Post(srv.URL+"/upload", mw.FormDataContentType(), strings.NewReader(body.String()))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want || (tc.want == 200 && string(got) != "photo.jpg") {
				t.Fatalf("status %d body %q", resp.StatusCode, got)
			}
		})
	}
}

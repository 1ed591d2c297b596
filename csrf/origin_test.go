package csrf_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/sessiond/sessiond/csrf"
	"github.com/sessiond/sessiond/internal/testkit"
)

// TestMixedSchemeSite models one site on two origins, as the demo runs it:
// http://shop.localhost:8080 and https://shop.localhost:8443. A form on the
// HTTP page posting to the HTTPS origin is cross-origin to the browser;
// with schemeful sites it is labelled Sec-Fetch-Site: cross-site (older
// engines said same-site). CrossOriginProtection refuses both unless the
// exact HTTP origin is trusted — and trusting it relaxes layer 1 only: the
// token is still required.
func TestMixedSchemeSite(t *testing.T) {
	const (
		httpOrigin  = "http://shop.localhost:8080"
		httpsHost   = "shop.localhost:8443"
		httpsOrigin = "https://" + httpsHost
	)
	tests := []struct {
		name    string
		trusted []string
		site    string // Sec-Fetch-Site
		origin  string
		token   bool
		want    int
		reason  string
	}{
		{"HTTP page to HTTPS, untrusted, cross-site", nil, "cross-site", httpOrigin, true, 403, "cross_origin"},
		{"HTTP page to HTTPS, untrusted, same-site label", nil, "same-site", httpOrigin, true, 403, "cross_origin"},
		{"HTTP page to HTTPS, untrusted, no Sec-Fetch-Site", nil, "", httpOrigin, true, 403, "cross_origin"},
		{"HTTP origin trusted, cross-site", []string{httpOrigin}, "cross-site", httpOrigin, true, 200, ""},
		{"HTTP origin trusted, same-site label", []string{httpOrigin}, "same-site", httpOrigin, true, 200, ""},
		{"HTTP origin trusted but no token", []string{httpOrigin}, "cross-site", httpOrigin, false, 403, "token_missing"},
		{"trust is exact: other port", []string{httpOrigin}, "cross-site", "http://shop.localhost:8081", true, 403, "cross_origin"},
		{"trust is exact: default port spelled out", []string{"http://shop.localhost"}, "cross-site", "http://shop.localhost:80", true, 403, "cross_origin"},
		{"trust is exact: sibling host", []string{httpOrigin}, "same-site", "http://evil.localhost:8080", true, 403, "cross_origin"},
		{"HTTPS page to itself", nil, "same-origin", httpsOrigin, true, 200, ""},
		{"HTTPS page to itself, old browser", nil, "", httpsOrigin, true, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &testkit.Auditor{}
			p, err := csrf.New(csrf.Config{TrustedOrigins: tc.trusted, Session: sessionOf, Auditor: rec})
			if err != nil {
				t.Fatal(err)
			}
			ss := &sessions{}
			srv := httptest.NewTLSServer(ss.wrap(p.Handler(shop())))
			defer srv.Close()
			c := srv.Client()
			c.Jar = newClient(t).Jar

			// The form was rendered by the HTTPS side (the secret sits in the
			// secure partition); the HTTP page carries it.
			tok := formToken(t, c, srv.URL)
			form := url.Values{"product": {"1"}}
			if tc.token {
				form.Set("csrf_token", tok)
			}
			hdr := http.Header{"Origin": {tc.origin}, "Host": {httpsHost}}
			if tc.site != "" {
				hdr.Set("Sec-Fetch-Site", tc.site)
			}
			if body, code := do(t, c, "POST", srv.URL+"/cart/add", form, hdr); code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			if got := lastReason(rec); got != tc.reason {
				t.Fatalf("refusal reason %q, want %q", got, tc.reason)
			}
		})
	}
}

// lastReason is the reason of the last audited refusal, "" if none.
func lastReason(rec *testkit.Auditor) string {
	ev := rec.Events()
	if len(ev) == 0 {
		return ""
	}
	for _, a := range ev[len(ev)-1].Attrs {
		if a.Key == "reason" {
			return a.Value.String()
		}
	}
	return "?"
}

// TestBehindProxy puts a real reverse proxy in front of the protected
// backend. The browser's Origin names the proxy. With the Host header
// preserved the check works unchanged; with Host rewritten to the backend
// it fails closed (refuses), and trusting the public origin restores it.
// X-Forwarded-Host is never believed.
func TestBehindProxy(t *testing.T) {
	tests := []struct {
		name         string
		preserveHost bool
		trustPublic  bool
		hdr          http.Header
		want         int
		reason       string
	}{
		{"Host preserved, old browser same-origin", true, false, nil, 200, ""},
		{"Host preserved, cross-origin", true, false, http.Header{"Origin": {"https://evil.example"}}, 403, "cross_origin"},
		{"Host rewritten, old browser same-origin: fails closed", false, false, nil, 403, "cross_origin"},
		{"Host rewritten, public origin trusted", false, true, nil, 200, ""},
		{"Host rewritten, spoofed X-Forwarded-Host does not help", false, false, http.Header{"X-Forwarded-Host": {"PUBLIC"}}, 403, "cross_origin"},
		{"Host rewritten, Sec-Fetch-Site same-origin", false, false, http.Header{"Sec-Fetch-Site": {"same-origin"}}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ss := &sessions{}
			rec := &testkit.Auditor{}
			p, err := csrf.New(csrf.Config{Session: sessionOf, Auditor: rec})
			if err != nil {
				t.Fatal(err)
			}
			backend := httptest.NewServer(ss.wrap(p.Handler(shop())))
			defer backend.Close()
			target, _ := url.Parse(backend.URL)
			proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				if tc.preserveHost {
					r.Out.Host = r.In.Host
				}
			}})
			defer proxy.Close()
			if tc.trustPublic {
				if err := p.AddTrustedOrigin(proxy.URL); err != nil {
					t.Fatal(err)
				}
			}

			c := newClient(t)
			tok := formToken(t, c, proxy.URL)
			hdr := http.Header{"Origin": {proxy.URL}}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			if v := hdr.Get("X-Forwarded-Host"); v != "" {
				hdr.Set("X-Forwarded-Host", proxy.Listener.Addr().String())
			}
			form := url.Values{"product": {"1"}, "csrf_token": {tok}}
			if body, code := do(t, c, "POST", proxy.URL+"/cart/add", form, hdr); code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			if got := lastReason(rec); got != tc.reason {
				t.Fatalf("refusal reason %q, want %q", got, tc.reason)
			}
		})
	}
}

// TestCrossSiteGETToMutatingRoute: a GET is never checked by this package;
// what refuses a forged GET is registering the mutating route with its
// method, so net/http answers 405 and nothing changes.
func TestCrossSiteGETToMutatingRoute(t *testing.T) {
	srv := newServer(t, csrf.Config{})
	c := newClient(t)
	before := cart(t, c, srv.URL)
	_, code := do(t, c, "GET", srv.URL+"/cart/add?product=1", nil, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if code != http.StatusMethodNotAllowed {
		t.Fatalf("cross-site GET /cart/add: %d, want 405", code)
	}
	if after := cart(t, c, srv.URL); after != before {
		t.Fatalf("cart changed by a GET: %s -> %s", before, after)
	}
}

// TestCheckOrigin: layer 1 alone, with the Protection's trusted origins,
// for requests that carry no token (a proxied application's forms).
func TestCheckOrigin(t *testing.T) {
	p, err := csrf.New(csrf.Config{TrustedOrigins: []string{"http://shop.localhost:8080"}, Session: sessionOf})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, site, origin string
		ok                         bool
	}{
		{"same origin, no token needed", "POST", "same-origin", "https://shop.localhost:8443", true},
		{"safe method", "GET", "cross-site", "https://evil.example", true},
		{"cross-site", "POST", "cross-site", "https://evil.example", false},
		{"trusted origin", "POST", "cross-site", "http://shop.localhost:8080", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "https://shop.localhost:8443/cart", nil)
			r.Header.Set("Sec-Fetch-Site", tc.site)
			r.Header.Set("Origin", tc.origin)
			err := p.CheckOrigin(r)
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, csrf.ErrCrossOrigin) {
				t.Fatalf("CheckOrigin = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

package upstream

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestProxyForwardingRules: what an upstream receives of a client's
// request, rule by rule.
func TestProxyForwardingRules(t *testing.T) {
	seen := make(chan *http.Request, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r
	}))
	defer be.Close()
	tests := []struct {
		name     string
		upstream string // path appended to the backend's URL
		target   string
		header   http.Header
		check    func(t *testing.T, r *http.Request)
	}{
		{"path and query as sent", "", "/a/b%2Fc?x=1&y=%20", nil, func(t *testing.T, r *http.Request) {
			if r.RequestURI != "/a/b%2Fc?x=1&y=%20" {
				t.Errorf("RequestURI %q", r.RequestURI)
			}
		}},
		{"upstream path prefixes", "/base/", "/x?q=1", nil, func(t *testing.T, r *http.Request) {
			if r.RequestURI != "/base/x?q=1" {
				t.Errorf("RequestURI %q, want /base/x?q=1", r.RequestURI)
			}
		}},
		{"a query that is not a form is re-encoded", "", "/p?a=1;b=2&c=%zz", nil, func(t *testing.T, r *http.Request) {
			if strings.Contains(r.URL.RawQuery, ";") || strings.Contains(r.URL.RawQuery, "%zz") {
				t.Errorf("query %q reached the upstream as sent", r.URL.RawQuery)
			}
		}},
		{"hop-by-hop and named headers dropped", "", "/p", http.Header{"Connection": {"X-Hop, keep-alive"}, "X-Hop": {"1"},
			"Keep-Alive": {"timeout=5"}, "Proxy-Authorization": {"Basic eA=="}, "X-Kept": {"yes"}}, func(t *testing.T, r *http.Request) {
			for _, k := range []string{"X-Hop", "Keep-Alive", "Proxy-Authorization"} {
				if r.Header.Get(k) != "" {
					t.Errorf("%s reached the upstream", k)
				}
			}
			if r.Header.Get("X-Kept") != "yes" {
				t.Errorf("X-Kept dropped")
			}
		}},
		{"forwarding headers are the proxy's", "", "/p", http.Header{"X-Forwarded-For": {"6.6.6.6"}, "Forwarded": {"for=6.6.6.6"},
			"X-Forwarded-Proto": {"gopher"}, "X-Forwarded-Host": {"evil"}}, func(t *testing.T, r *http.Request) {
			want := map[string]string{"X-Forwarded-For": "192.0.2.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.test", "Forwarded": ""}
			for k, v := range want {
				if got := r.Header.Values(k); strings.Join(got, ",") != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		}},
		{"no Accept-Encoding added for a client that sent none", "", "/p", nil, func(t *testing.T, r *http.Request) {
			if ae, ok := r.Header["Accept-Encoding"]; ok {
				t.Errorf("Accept-Encoding %q added", ae)
			}
		}},
		{"Accept-Encoding as the client sent it", "", "/p", http.Header{"Accept-Encoding": {"br"}}, func(t *testing.T, r *http.Request) {
			if ae := r.Header.Values("Accept-Encoding"); strings.Join(ae, ",") != "br" {
				t.Errorf("Accept-Encoding = %q, want br", ae)
			}
		}},
		{"no Go User-Agent added; Te: trailers kept", "", "/p", http.Header{"Te": {"trailers, deflate"}}, func(t *testing.T, r *http.Request) {
			if ua := r.Header.Get("User-Agent"); ua != "" {
				t.Errorf("User-Agent %q added", ua)
			}
			if te := r.Header.Get("Te"); te != "trailers" {
				t.Errorf("Te = %q, want trailers", te)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(be.URL + tt.upstream)
			p, err := NewProxy(ProxyConfig{URL: u, Forwarded: func(*http.Request) (string, bool) { return "192.0.2.1", true }})
			if err != nil {
				t.Fatal(err)
			}
			defer p.CloseIdleConnections()
			r := httptest.NewRequest("GET", "http://app.test"+tt.target, nil)
			for k, v := range tt.header {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r)
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			tt.check(t, <-seen)
		})
	}
}

// TestProxyPassesEncodedBody: a backend's compressed answer reaches the
// client as the backend sent it (encoding, length and bytes), never
// decompressed in the gateway.
func TestProxyPassesEncodedBody(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, strings.Repeat("hello ", 100))
	zw.Close()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(gz.Len()))
		w.Write(gz.Bytes())
	}))
	defer be.Close()
	u, _ := url.Parse(be.URL)
	p, err := NewProxy(ProxyConfig{URL: u, Forwarded: func(*http.Request) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	for _, ae := range []string{"", "gzip"} {
		t.Run("Accept-Encoding="+ae, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://app.test/", nil)
			if ae != "" {
				r.Header.Set("Accept-Encoding", ae)
			}
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r)
			if ce := w.Header().Get("Content-Encoding"); ce != "gzip" {
				t.Errorf("Content-Encoding %q, want gzip", ce)
			}
			if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(gz.Len()) {
				t.Errorf("Content-Length %q, want %d", cl, gz.Len())
			}
			if !bytes.Equal(w.Body.Bytes(), gz.Bytes()) {
				t.Errorf("body is not the backend's compressed bytes (%d bytes)", w.Body.Len())
			}
		})
	}
}

// TestProxyRefusesUnaskedSwitch: a 101 to a request that asked for no
// upgrade is an error, never a response.
func TestProxyRefusesUnaskedSwitch(t *testing.T) {
	base := misframer(t, func(w io.Writer, _ *http.Request) {
		io.WriteString(w, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: evil\r\n\r\n")
	})
	u, _ := url.Parse(base)
	var got error
	p, err := NewProxy(ProxyConfig{URL: u, Forwarded: func(*http.Request) (string, bool) { return "", false },
		Error: func(w http.ResponseWriter, _ *http.Request, err error) { got = err; w.WriteHeader(502) }})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest("GET", "http://app.test/bad", nil))
	if w.Code != 502 || !errors.Is(got, ErrUnaskedSwitch) {
		t.Fatalf("unasked 101: status %d, error %v", w.Code, got)
	}
}

func TestNewProxyRefusesBadConfig(t *testing.T) {
	fwd := func(*http.Request) (string, bool) { return "", false }
	for name, c := range map[string]ProxyConfig{
		"no URL":       {Forwarded: fwd},
		"ftp URL":      {URL: &url.URL{Scheme: "ftp", Host: "x"}, Forwarded: fwd},
		"no host":      {URL: &url.URL{Scheme: "http"}, Forwarded: fwd},
		"no Forwarded": {URL: &url.URL{Scheme: "http", Host: "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewProxy(c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

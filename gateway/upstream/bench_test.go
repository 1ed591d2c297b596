package upstream

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// BenchmarkProxy compares httputil.ReverseProxy on net/http's Transport
// ("pooled") with the same proxy on Transport ("guarded"): the guard's
// cost per bodiless request, backend included.
func BenchmarkProxy(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello, world")
	}))
	defer be.Close()
	u, _ := url.Parse(be.URL)
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"pooled", Pooled()}, {"guarded", New(Config{})}} {
		rp := &httputil.ReverseProxy{Transport: tc.rt, Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := httptest.NewRecorder()
					rp.ServeHTTP(w, httptest.NewRequest("GET", "http://app.test/p", nil))
					if w.Code != 200 {
						b.Fatal(w.Code)
					}
				}
			})
		})
	}
}

// BenchmarkProxyPaths compares ReverseProxy on Transport with Proxy.
func BenchmarkProxyPaths(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello, world")
	}))
	defer be.Close()
	u, _ := url.Parse(be.URL)
	fwd := func(*http.Request) (string, bool) { return "192.0.2.1", true }
	px, err := NewProxy(ProxyConfig{URL: u, Forwarded: fwd})
	if err != nil {
		b.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Transport: New(Config{}), BufferPool: copyBuffers{},
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }}
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"reverseproxy", rp}, {"proxy", px}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := httptest.NewRecorder()
					tc.h.ServeHTTP(w, httptest.NewRequest("GET", "http://app.test/p?q=1", nil))
					if w.Code != 200 {
						b.Fatal(w.Code)
					}
				}
			})
		})
	}
}

package gateway

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"

	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

// BenchmarkGateway measures the gateway's own work per request, with an
// in-process backend: a read-only request carrying a valid session.
func BenchmarkGateway(b *testing.B) {
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/setup" {
			w.Header().Set("X-Replace-Session", "cart=1%2c2%2c3&name=alice&theme=dark")
		}
		io.WriteString(w, "ok")
	})
	st := memory.New(memory.Config{SweepInterval: -1})
	defer st.Close()
	sc := testSite(backend, "app.test")
	sc.Name, sc.Redirects.Overall = "b", secure.Never
	cfg := testConfig(b, "80", "443", sc)
	cfg.TrustedProxies = []config.IPPrefix{{Prefix: netip.MustParsePrefix("192.0.2.0/24")}}
	g, err := New(cfg, Runtime{Store: st, State: st, Auditor: &session.SlogAuditor{}})
	if err != nil {
		b.Fatal(err)
	}
	req := func(path, cookie string) *http.Request {
		r := httptest.NewRequest("GET", "https://app.test"+path, nil)
		r.TLS = &tls.ConnectionState{}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		return r
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, req("/setup", ""))
	ck := w.Result().Cookies()[0]
	cookie := ck.Name + "=" + ck.Value
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			backend.ServeHTTP(httptest.NewRecorder(), req("/p", cookie))
		}
	})
	b.Run("gateway", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			g.ServeHTTP(w, req("/p", cookie))
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}

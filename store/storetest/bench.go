package storetest

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/sessiond/sessiond/session"
)

// BenchmarkRequests measures a store through the middleware, as an
// application sees it: a read-only request (load, no write inside the
// touch interval) and a modifying request (load, compare-and-swap), each
// on a session holding five keys. cfg needs Store or Codec; the rest are
// the defaults. Every store's bench_test.go calls it, so BENCHMARKS.md can
// put them side by side.
func BenchmarkRequests(b *testing.B, cfg session.Config) {
	if cfg.Auditor == nil {
		cfg.Auditor = &session.SlogAuditor{}
	}
	m, err := session.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if r.Method == http.MethodPost {
			n, _ := s.Int("n")
			s.SetInt("n", n+1)
			return
		}
		io.WriteString(w, s.Get("k1"))
	}))
	// Create the session.
	req := httptest.NewRequest("POST", "https://bench.test/", nil)
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	setup := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		for i := range 5 {
			s.Set("k"+strconv.Itoa(i), "value-"+strconv.Itoa(i))
		}
	}))
	setup.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if len(cookies) == 0 {
		b.Fatal("no session cookie issued")
	}
	cookie := cookies[0].Name + "=" + cookies[0].Value
	run := func(method string) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(method, "https://bench.test/", nil)
				r.TLS = &tls.ConnectionState{}
				r.Header.Set("Cookie", cookie)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
				if method == http.MethodGet && len(w.Result().Cookies()) != 0 {
					b.Fatal("a read-only request set a cookie")
				}
			}
		}
	}
	b.Run("ReadOnly", run(http.MethodGet))
	b.Run("Modify", run(http.MethodPost))
}

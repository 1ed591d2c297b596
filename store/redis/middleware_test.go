package redis_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redis"
)

// TestRequestRoundTrips counts Redis commands per HTTP request through the
// real middleware: a read-only request costs one round trip and
// writes nothing inside the touch interval; a modifying one costs two
// (load, then compare-and-swap).
func TestRequestRoundTrips(t *testing.T) {
	srv := newServer(t, testenv.FreePort(t))
	c := goredis.NewClient(&goredis.Options{Addr: srv.addr(), ContextTimeoutEnabled: true})
	defer c.Close()
	hook := &counter{}
	c.AddHook(hook)
	st, err := redis.New(redis.Config{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(session.Config{Store: st, Auditor: &session.SlogAuditor{}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).Get("cart"))
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("cart", s.Get("cart")+"x")
	})
	ts := httptest.NewTLSServer(m.Handler(mux))
	defer ts.Close()
	jar, _ := cookiejar.New(nil)
	client := ts.Client()
	client.Jar = jar
	do := func(method, path string) string {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	do("POST", "/write") // create
	do("POST", "/write") // warm the update script
	do("GET", "/read")
	before := commandStats(t, c)
	hook.reset() // INFO above went through the same client
	const n = 20
	for range n {
		if got := do("GET", "/read"); got != "xx" {
			t.Fatalf("read = %q", got)
		}
	}
	cmds, pipes, _ := hook.reset()
	writes := diffStats(before, commandStats(t, c))
	hook.reset()
	if cmds+pipes != n {
		t.Fatalf("%d read-only requests cost %d round trips, want %d (one each)", n, cmds+pipes, n)
	}
	for _, w := range []string{"hset", "set", "del", "pexpire", "zadd"} {
		if writes[w] != 0 {
			t.Fatalf("read-only requests wrote to Redis: %v", writes)
		}
	}
	for range n {
		do("POST", "/write")
	}
	cmds, pipes, _ = hook.reset()
	if cmds+pipes != 2*n {
		t.Fatalf("%d modifying requests cost %d round trips, want %d (two each)", n, cmds+pipes, 2*n)
	}
}

package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sessiond/sessiond/remember"
)

// TestRememberKeysSwept: the gateway's background GC deletes expired
// remember-me keys and keeps live and used ones (a used key must stay
// until it expires, for reuse detection).
func TestRememberKeysSwept(t *testing.T) {
	rs := remember.NewMemoryStore()
	now := time.Now()
	key := func(sel byte, expires time.Time) remember.Record {
		s := make([]byte, 22)
		for i := range s {
			s[i] = 'A' + sel
		}
		return remember.Record{Selector: string(s), Hash: sha256.Sum256(s), User: "r\x00alice", Created: now.Add(-time.Hour), Expires: expires}
	}
	expired, live := key(0, now.Add(-time.Minute)), key(1, now.Add(time.Hour))
	ctx := context.Background()
	for _, k := range []remember.Record{expired, live} {
		if err := rs.Create(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(t, "80", "443", testSite(http.NotFoundHandler(), "app.test"))
	rt := memRuntime(t)
	rt.RememberStore = rs
	g, err := New(cfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(ctx)
	defer stop()
	go g.RunGC(run, 10*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := rs.Lookup(ctx, expired.Selector)
		if errors.Is(err, remember.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expired remember-me key is still there after 5s of GC every 10ms (%v)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := rs.Lookup(ctx, live.Selector); err != nil {
		t.Fatalf("the GC deleted a live key: %v", err)
	}
}

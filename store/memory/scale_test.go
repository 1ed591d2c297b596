package memory_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

// TestMillionSessions (the scale target): 1,000,000 live sessions, each
// a typical record (three keys, a user, client info), fit in 1 GiB of heap.
// It takes about a minute, so it runs only with SESSIOND_SCALE=1:
//
//	SESSIOND_SCALE=1 go test -run TestMillionSessions -v ./store/memory
func TestMillionSessions(t *testing.T) {
	if os.Getenv("SESSIOND_SCALE") != "1" {
		t.Skip("set SESSIOND_SCALE=1 to run the 1,000,000-session scale test")
	}
	const n = 1_000_000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	s := memory.New(memory.Config{SweepInterval: -1})
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	for i := range n {
		_, h := token.New()
		r := &session.Record{Ref: token.Ref(), ID: h, User: "user" + strconv.Itoa(i%50_000),
			Data:    map[string]string{"cart": "1,2,3", "theme": "dark", "lang": "en"},
			Created: now, LastSeen: now, Saved: now, Rotated: now, Expires: now.Add(time.Hour),
			Version: 1, IP: "192.0.2.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0"}
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	used := heap() - before
	t.Logf("%d sessions: %.0f MiB heap, %d bytes per session", n, float64(used)/(1<<20), used/n)
	if used > 1<<30 {
		t.Fatalf("%d sessions use %d MiB, over the 1 GiB target", n, used>>20)
	}
	if s.Len() != n {
		t.Fatalf("Len = %d", s.Len())
	}
	runtime.KeepAlive(s)
}

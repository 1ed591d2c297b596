package ratelimit

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

func mustNew(t *testing.T, cfg Config) *Limiter {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return l
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative every", Config{Every: -time.Second}, "Every is -1s"},
		{"negative burst", Config{Burst: -1}, "Burst is -1"},
		{"negative max keys", Config{MaxKeys: -5}, "MaxKeys is -5"},
		{"overflow", Config{Every: time.Duration(1 << 62), Burst: 4}, "overflows"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v; want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestTake(t *testing.T) {
	type step struct {
		advance time.Duration
		key     string
		ok      bool
		retry   time.Duration
	}
	cases := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{
			name: "burst then refused with exact retry-after",
			cfg:  Config{Every: time.Second, Burst: 3},
			steps: []step{
				{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0},
				{0, "a", false, time.Second},
				{400 * time.Millisecond, "a", false, 600 * time.Millisecond},
				{600 * time.Millisecond, "a", true, 0},
				{0, "a", false, time.Second},
			},
		},
		{
			name: "keys are independent",
			cfg:  Config{Every: time.Minute, Burst: 1},
			steps: []step{
				{0, "a", true, 0}, {0, "a", false, time.Minute},
				{0, "b", true, 0}, {0, "b", false, time.Minute},
			},
		},
		{
			name: "refill caps at burst",
			cfg:  Config{Every: time.Second, Burst: 2},
			steps: []step{
				{0, "a", true, 0},
				{time.Hour, "a", true, 0}, {0, "a", true, 0},
				{0, "a", false, time.Second},
			},
		},
		{
			name: "refused requests do not add debt",
			cfg:  Config{Every: 10 * time.Second, Burst: 1},
			steps: []step{
				{0, "a", true, 0},
				{0, "a", false, 10 * time.Second}, {0, "a", false, 10 * time.Second},
				{0, "a", false, 10 * time.Second},
				{10 * time.Second, "a", true, 0},
			},
		},
		{
			name: "clock going backwards neither refills nor breaks",
			cfg:  Config{Every: time.Second, Burst: 1},
			steps: []step{
				{0, "a", true, 0},
				{-time.Hour, "a", false, time.Hour + time.Second},
				{time.Hour + time.Second, "a", true, 0},
			},
		},
		{
			name: "defaults: ten per second",
			cfg:  Config{},
			steps: func() []step {
				var s []step
				for range DefaultBurst {
					s = append(s, step{0, "a", true, 0})
				}
				return append(s, step{0, "a", false, DefaultEvery})
			}(),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
			tc.cfg.Now = clk.Now
			l := mustNew(t, tc.cfg)
			for i, s := range tc.steps {
				clk.Advance(s.advance)
				ok, retry := l.Take(s.key)
				if ok != s.ok || retry != s.retry {
					t.Fatalf("step %d: Take(%q) = %v, %v; want %v, %v", i, s.key, ok, retry, s.ok, s.retry)
				}
			}
		})
	}
}

func TestRetryAfterDoesNotTake(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	l := mustNew(t, Config{Every: time.Second, Burst: 1, Now: clk.Now})
	if d := l.RetryAfter("a"); d != 0 {
		t.Fatalf("RetryAfter on an unknown key = %v, want 0", d)
	}
	for range 3 {
		if d := l.RetryAfter("a"); d != 0 {
			t.Fatalf("RetryAfter took a token: %v", d)
		}
	}
	if !l.Allow("a") {
		t.Fatal("first Allow refused")
	}
	if d := l.RetryAfter("a"); d != time.Second {
		t.Fatalf("RetryAfter after the burst = %v, want 1s", d)
	}
	if l.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (RetryAfter must not create buckets)", l.Len())
	}
}

func TestReset(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	l := mustNew(t, Config{Every: time.Hour, Burst: 1, Now: clk.Now})
	l.Allow("u")
	if l.Allow("u") {
		t.Fatal("second Allow should be refused")
	}
	l.Reset("u")
	if !l.Allow("u") {
		t.Fatal("Allow after Reset refused")
	}
	l.Reset("never-seen") // no-op, no panic
}

func TestMemoryIsBounded(t *testing.T) {
	cases := []struct {
		name string
		// spend: how many tokens each key spends
		spend   int
		keys    int
		maxKeys int
	}{
		{"idle keys", 0, 1000, 10},
		{"busy keys", 1, 1000, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
			l := mustNew(t, Config{Every: time.Minute, Burst: 2, MaxKeys: tc.maxKeys, Now: clk.Now})
			for i := range tc.keys {
				k := fmt.Sprint("k", i)
				for range tc.spend {
					l.Allow(k)
				}
				l.RetryAfter(k)
				if n := l.Len(); n > tc.maxKeys {
					t.Fatalf("after %d keys Len = %d > MaxKeys %d", i+1, n, tc.maxKeys)
				}
			}
		})
	}
}

func TestEvictionPrefersFullBuckets(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	l := mustNew(t, Config{Every: time.Second, Burst: 1, MaxKeys: 3, Now: clk.Now})
	l.Allow("attacker") // oldest, in debt
	l.Allow("idle")
	clk.Advance(2 * time.Second) // "idle" and "attacker" refill...
	l.Allow("attacker")          // ...but attacker spends again and is now most recent
	l.Allow("c")
	l.Allow("new") // limiter full: must evict "idle" (full), not someone in debt
	if ok, _ := l.Take("attacker"); ok {
		t.Fatal("the throttled key was evicted and got a fresh bucket")
	}
	if ok, _ := l.Take("c"); ok {
		t.Fatal("key c lost its state")
	}
}

func TestPrune(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	l := mustNew(t, Config{Every: time.Second, Burst: 5, Now: clk.Now})
	l.Allow("a")
	clk.Advance(500 * time.Millisecond)
	l.Allow("b")
	clk.Advance(600 * time.Millisecond) // a refilled, b still 0.4s in debt
	if n := l.Prune(); n != 1 {
		t.Fatalf("Prune dropped %d buckets, want 1", n)
	}
	if l.Len() != 1 || l.RetryAfter("b") != 0 {
		t.Fatalf("Len = %d after Prune; want only b left", l.Len())
	}
}

func TestConcurrentTakeNeverOverspends(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	const burst = 50
	l := mustNew(t, Config{Every: time.Hour, Burst: burst, Now: clk.Now})
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Go(func() {
			for i := range 100 {
				if l.Allow("shared") {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				l.Allow(fmt.Sprint("own", i%3))
			}
		})
	}
	wg.Wait()
	if allowed != burst {
		t.Fatalf("%d requests allowed concurrently, want exactly the burst %d", allowed, burst)
	}
}

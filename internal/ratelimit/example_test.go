package ratelimit_test

import (
	"fmt"
	"time"

	"github.com/sessiond/sessiond/internal/ratelimit"
)

func Example() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	// Five login attempts per client IP, then one more every 12 seconds.
	l, err := ratelimit.New(ratelimit.Config{Every: 12 * time.Second, Burst: 5, Now: clock})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := 1; i <= 6; i++ {
		ok, retry := l.Take("192.0.2.7")
		fmt.Println(i, ok, retry)
	}
	now = now.Add(12 * time.Second)
	fmt.Println("later", l.Allow("192.0.2.7"))
	fmt.Println("other client", l.Allow("198.51.100.1"))
	// Output:
	// 1 true 0s
	// 2 true 0s
	// 3 true 0s
	// 4 true 0s
	// 5 true 0s
	// 6 false 12s
	// later true
	// other client true
}

package cli

import "testing"

func TestGCPercent(t *testing.T) {
	for _, c := range []struct {
		live int64
		want int
	}{
		{1 << 20, 6300},      // a proxy's few MiB: next collection at 64 MiB
		{16 << 20, 300},      // 16 MiB live + 48 MiB
		{heapFloor / 2, 100}, // from here on Go's default
		{900 << 20, 100},     // a memory store with a million sessions
	} {
		if got := gcPercent(c.live); got != c.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

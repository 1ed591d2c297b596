//go:build !unix

package bench

import "time"

// processCPU is not measured on this platform: the cpu-ns/op metric is
// then omitted.
func processCPU() time.Duration { return 0 }

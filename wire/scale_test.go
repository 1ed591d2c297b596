package wire

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// churn is an update that names n keys three times: deleted, set, deleted
// again, then set once more for the even ones. Every key touches the
// delete list, the worst case for a decoder that searches it.
func churn(n int) string {
	var b strings.Builder
	for pass := range 3 {
		for i := range n {
			switch pass {
			case 1:
				fmt.Fprintf(&b, "k%d=v&", i)
			default:
				fmt.Fprintf(&b, "k%d=&", i)
			}
		}
	}
	for i := 0; i < n; i += 2 {
		fmt.Fprintf(&b, "k%d=w&", i)
	}
	return b.String()
}

// TestDecodeChangesChurn: a key's last pair wins, and the delete list is
// in the order of each key's last run of deletions.
func TestDecodeChangesChurn(t *testing.T) {
	c, err := DecodeChanges(churn(4) + "k3=x&k1=&k5=&k1=")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Set) != 3 || c.Set["k0"] != "w" || c.Set["k2"] != "w" || c.Set["k3"] != "x" {
		t.Errorf("Set = %v", c.Set)
	}
	if got, want := strings.Join(c.Delete, ","), "k1,k5"; got != want {
		t.Errorf("Delete = %s, want %s", got, want)
	}
}

// TestDecodeChangesLinear: twenty times the keys take about twenty times
// as long, not four hundred (a backend's header is attacker-shaped input
// when the backend echoes what a client sent). The rounds alternate the
// sizes and keep each size's best, so load on a shared machine hits both;
// the bound is loose: linear measures 20-40×, the quadratic decoder
// several hundred.
func TestDecodeChangesLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	const small, ratio = 2_500, 20
	inputs := [2]string{churn(small), churn(small * ratio)}
	best := [2]time.Duration{1 << 62, 1 << 62}
	for range 5 {
		for i, in := range inputs {
			runtime.GC()
			start := time.Now()
			if _, err := DecodeChanges(in); err != nil {
				t.Fatal(err)
			}
			best[i] = min(best[i], time.Since(start))
		}
	}
	got := float64(best[1]) / float64(best[0])
	t.Logf("%d keys: %v; %d keys: %v (%.1f×)", small, best[0], small*ratio, best[1], got)
	if got > 5*ratio {
		t.Fatalf("%d× the keys took %.0f× as long (%v, %v)", ratio, got, best[0], best[1])
	}
}

func BenchmarkDecodeChanges(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		in := churn(n)
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := DecodeChanges(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package acmetest

import "testing"

// FuzzDNSAnswer: any datagram gets an answer or nothing, never a panic;
// an answer keeps the query's ID and question.
func FuzzDNSAnswer(f *testing.F) {
	f.Add([]byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'p', 'p', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0})
	f.Fuzz(func(t *testing.T, q []byte) {
		a := dnsAnswer(q)
		if a == nil {
			return
		}
		if a[0] != q[0] || a[1] != q[1] || a[2]&0x80 == 0 {
			t.Fatalf("answer % x to % x", a, q)
		}
	})
}

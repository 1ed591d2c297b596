package gateway

import "testing"

// FuzzAppendHeaderKey: for any name, appendHeaderKey is headerKey.
func FuzzAppendHeaderKey(f *testing.F) {
	for _, n := range []string{"X-Session", "x_session_user", "X-\u212Aey", ""} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n string) {
		if got, want := string(appendHeaderKey(nil, n)), headerKey(n); got != want {
			t.Fatalf("appendHeaderKey(%q) = %q, headerKey = %q", n, got, want)
		}
	})
}

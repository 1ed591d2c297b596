package login

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeNext: whatever a client sends as next=, the answer is a path on
// this site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/a?b=c", "//evil", "/\\evil", "/%09/evil", "https://evil", "/%2F%2Fevil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := SafeNext(next)
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") {
			t.Fatalf("SafeNext(%q) = %q: not a same-site path", next, got)
		}
	})
}

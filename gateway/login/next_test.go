package login

import (
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "", "/"},
		{"path", "/account?tab=1", "/account?tab=1"},
		{"relative without slash", "account", "/"},
		{"absolute URL", "https://evil.example/", "/"},
		{"scheme-relative", "//evil.example/", "/"},
		{"backslash", "/\\evil.example", "/"},
		{"encoded slash start", "/%2fevil.example", "/"},
		{"tab dropped by browsers", "/%09/evil.example", "/"},
		{"newline", "/a\nb", "/"},
		{"space", "/a b", "/"},
		{"bad escape", "/%zz", "/"},
		{"too long", "/" + strings.Repeat("a", 2048), "/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := SafeNext(tt.in); got != tt.want {
				t.Fatalf("SafeNext(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDataKeyIsInternal(t *testing.T) {
	for _, k := range []string{DataKey("oidc", "id_token"), EmailKey, GroupsKey} {
		if !strings.HasPrefix(k, InternalPrefix) || !strings.HasPrefix(k, "secure.") {
			t.Errorf("%q is not an internal key of the secure partition", k)
		}
	}
}

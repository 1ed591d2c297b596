package admin

import (
	"net/http/httptest"
	"testing"
)

// TestAuthorized: only the exact bearer token opens the API; an empty
// configured token opens it to nobody.
func TestAuthorized(t *testing.T) {
	for _, tc := range []struct {
		name, token, header string
		want                bool
	}{
		{"right token", "s3cret-token", "Bearer s3cret-token", true},
		{"wrong token", "s3cret-token", "Bearer s3cret-tokeN", false},
		{"prefix of the token", "s3cret-token", "Bearer s3cret", false},
		{"no scheme", "s3cret-token", "s3cret-token", false},
		{"none sent", "s3cret-token", "", false},
		{"no token configured", "", "Bearer ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/realms", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if got := Authorized(r, tc.token); got != tc.want {
				t.Fatalf("Authorized = %v, want %v", got, tc.want)
			}
		})
	}
}

package testoidc_test

import (
	"testing"

	"github.com/sessiond/sessiond/internal/testoidc"
)

// FuzzClaims: Claims reads tokens a relying party under test sent back;
// whatever the input, it returns claims or an error, never a panic.
func FuzzClaims(f *testing.F) {
	for _, s := range []string{"", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "..", "a.e30.b", "a.bnVsbA.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, jwt string) {
		if c, err := testoidc.Claims(jwt); err == nil && c == nil {
			t.Errorf("Claims(%q): no error and no claims", jwt)
		}
	})
}

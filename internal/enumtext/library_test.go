package enumtext_test

import (
	"encoding"
	"reflect"
	"testing"

	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
)

// TestLibraryEnums: every value of the library enumerations a
// configuration names survives MarshalText and UnmarshalText, and other
// text is refused.
func TestLibraryEnums(t *testing.T) {
	tests := []struct {
		v   encoding.TextMarshaler
		dst encoding.TextUnmarshaler
	}{
		{session.HTTPSOnly, new(session.Mode)}, {session.Mixed, new(session.Mode)},
		{session.RevokeUser, new(session.TheftAction)}, {session.DestroySession, new(session.TheftAction)},
		{session.LogOnly, new(session.TheftAction)},
		{session.BindOff, new(session.BindAction)}, {session.BindReject, new(session.BindAction)},
		{session.BindRegenerate, new(session.BindAction)}, {session.BindLog, new(session.BindAction)},
		{secure.ByRules, new(secure.Overall)}, {secure.Always, new(secure.Overall)}, {secure.Never, new(secure.Overall)},
		{secure.Stay, new(secure.Scheme)}, {secure.HTTPS, new(secure.Scheme)}, {secure.HTTP, new(secure.Scheme)},
		{secure.AnyState, new(secure.State)}, {secure.Anonymous, new(secure.State)}, {secure.Authenticated, new(secure.State)},
	}
	for _, tc := range tests {
		b, err := tc.v.MarshalText()
		if err != nil {
			t.Fatalf("%#v: %v", tc.v, err)
		}
		if err := tc.dst.UnmarshalText(b); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if got := reflect.ValueOf(tc.dst).Elem().Interface(); got != tc.v {
			t.Errorf("%q decodes to %v, want %v", b, got, tc.v)
		}
		if err := tc.dst.UnmarshalText([]byte("bogus")); err == nil {
			t.Errorf("%T accepts \"bogus\"", tc.dst)
		}
	}
}

package wire

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestEncodeValuesModSessionBytes(t *testing.T) {
	cases := []struct {
		name string
		in   map[string]string
		want string
	}{
		{"empty", nil, ""},
		{"plain", map[string]string{"user": "alice"}, "user=alice"},
		{"sorted", map[string]string{"b": "2", "a": "1"}, "a=1&b=2"},
		{"unreserved kept", map[string]string{"k.-*_": "A.z-9*_"}, "k.-*_=A.z-9*_"},
		{"space is plus", map[string]string{"q": "a b"}, "q=a+b"},
		{"lowercase hex", map[string]string{"k": "a&b=c/é~"}, "k=a%26b%3dc%2f%c3%a9%7e"},
		{"plus escaped", map[string]string{"k": "1+1"}, "k=1%2b1"},
		{"NUL", map[string]string{"k": "\x00"}, "k=%00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := EncodeValues(tc.in); got != tc.want {
				t.Fatalf("EncodeValues = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecodeChanges(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		set     map[string]string
		del     []string
		wantErr bool
	}{
		{"set", "a=1&b=two+words", map[string]string{"a": "1", "b": "two words"}, nil, false},
		{"empty value deletes", "a=&b=1", map[string]string{"b": "1"}, []string{"a"}, false},
		{"bare key deletes", "a&b=1", map[string]string{"b": "1"}, []string{"a"}, false},
		{"later wins set", "a=&a=2", map[string]string{"a": "2"}, nil, false},
		{"later wins delete", "a=2&a=", map[string]string{}, []string{"a"}, false},
		{"escapes either case", "k=%C3%a9", map[string]string{"k": "é"}, nil, false},
		{"truncated escape skipped", "a=%4&b=1", map[string]string{"b": "1"}, nil, true},
		{"bad hex skipped", "a=%zz&b=1", map[string]string{"b": "1"}, nil, true},
		{"percent at end", "a=1%", map[string]string{}, nil, true},
		{"empty key skipped", "=x&b=1", map[string]string{"b": "1"}, nil, true},
		{"empty pairs ignored", "&&a=1&&", map[string]string{"a": "1"}, nil, false},
		{"equals in value", "a=b=c", map[string]string{"a": "b=c"}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DecodeChanges(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBadEncoding) {
				t.Fatalf("err %v does not wrap ErrBadEncoding", err)
			}
			if diff := cmp.Diff(tc.set, c.Set); diff != "" {
				t.Errorf("Set (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.del, c.Delete); diff != "" {
				t.Errorf("Delete (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCodecRoundTrip(t *testing.T) {
	in := map[string]string{"cart": "1,2,3", "name": "Zoë & co", "secure.pan": "4111 1111", "x": "%+=&"}
	out, err := DecodeValues(EncodeValues(in))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Fatalf("round trip (-in +out):\n%s", diff)
	}
}

func TestChangesEncode(t *testing.T) {
	cases := []struct {
		name string
		in   Changes
		want string
	}{
		{"empty", Changes{}, ""},
		{"set", Changes{Set: map[string]string{"b": "2", "a": "1"}}, "a=1&b=2"},
		{"delete", Changes{Delete: []string{"cart", "a b"}}, "cart=&a+b="},
		{"both", Changes{Set: map[string]string{"secure.last_order": "1,3"}, Delete: []string{"cart"}}, "secure.last_order=1%2c3&cart="},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.Encode()
			if got != tc.want {
				t.Fatalf("Encode = %q, want %q", got, tc.want)
			}
			back, err := DecodeChanges(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.in, back, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("DecodeChanges(%q) (-encoded +decoded):\n%s", got, diff)
			}
		})
	}
}

package secure

import "testing"

// FuzzParseSelector: never panics, and whatever parses prints back to an
// equivalent selector.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"input[type=password]", "form#login.a[b='c d']", "#x", "[a=\"b\"]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			return
		}
		back, err := ParseSelector(sel.String())
		if err != nil {
			t.Fatalf("String() = %q of %q does not parse: %v", sel.String(), s, err)
		}
		if back.String() != sel.String() {
			t.Fatalf("round trip changed %q to %q", sel.String(), back.String())
		}
	})
}

// FuzzContainsMatch: an upstream's HTML never panics the tag reader, and
// a page that starts with a password input matches whatever follows.
func FuzzContainsMatch(f *testing.F) {
	for _, s := range []string{`<form id=login>`, `<input type="password`, `<<a b=c =d e='f'/>`, `<!-- <input type=password> -->`} {
		f.Add(s)
	}
	sel, err := ParseSelector("input[type=password]")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		containsMatch([]byte(s), sel)
		if !containsMatch([]byte(`<input type="password">`+s), sel) {
			t.Fatalf("password input before %q not found", s)
		}
	})
}

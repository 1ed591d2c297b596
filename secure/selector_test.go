package secure

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSelector(t *testing.T) {
	cases := []struct {
		in   string
		want *Selector
	}{
		{"input[type=password]", &Selector{Tag: "input", Attrs: []AttrTest{{Name: "type", Value: "password", HasValue: true}}}},
		{"#login", &Selector{ID: "login"}},
		{"FORM#login.big.wide", &Selector{Tag: "form", ID: "login", Classes: []string{"big", "wide"}}},
		{`form[method="post"][data-x]`, &Selector{Tag: "form", Attrs: []AttrTest{{Name: "method", Value: "post", HasValue: true}, {Name: "data-x"}}}},
		{`[action='/log in']`, &Selector{Attrs: []AttrTest{{Name: "action", Value: "/log in", HasValue: true}}}},
		{"*.x", &Selector{Classes: []string{"x"}}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSelector(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			back, err := ParseSelector(got.String())
			if err != nil || !cmp.Equal(got, back) {
				t.Fatalf("String() = %q does not parse back: %v", got.String(), err)
			}
		})
	}
}

func TestParseSelectorErrors(t *testing.T) {
	cases := map[string]string{
		"empty":          "",
		"descendant":     "form input",
		"child":          "form>input",
		"list":           "a,b",
		"unclosed":       "input[type=password",
		"unterminated":   `input[type="password]`,
		"bare hash":      "#",
		"two ids":        "#a#b",
		"no attr name":   "[=x]",
		"bad value":      "[type=a b]",
		"universal only": "*",
		"junk":           "input!",
		"too long":       strings.Repeat("a", 300),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if sel, err := ParseSelector(in); err == nil {
				t.Fatalf("ParseSelector(%q) = %+v, want an error", in, sel)
			}
		})
	}
}

func TestSelectorMatch(t *testing.T) {
	type el struct {
		tag   string
		attrs map[string]string
	}
	cases := []struct {
		name, sel string
		el        el
		want      bool
	}{
		{"password input", "input[type=password]", el{"INPUT", map[string]string{"type": "password", "name": "pw"}}, true},
		{"text input", "input[type=password]", el{"input", map[string]string{"type": "text"}}, false},
		{"id", "#login", el{"form", map[string]string{"id": "login"}}, true},
		{"id mismatch", "#login", el{"form", map[string]string{"id": "Login"}}, false},
		{"classes", "form.a.b", el{"form", map[string]string{"class": " b  a c"}}, true},
		{"missing class", "form.a.b", el{"form", map[string]string{"class": "a"}}, false},
		{"attr present", "[data-login]", el{"div", map[string]string{"data-login": ""}}, true},
		{"attr absent", "[data-login]", el{"div", nil}, false},
		{"wrong tag", "form", el{"div", nil}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := ParseSelector(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			got := sel.Match(tc.el.tag, func(n string) (string, bool) { v, ok := tc.el.attrs[n]; return v, ok })
			if got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

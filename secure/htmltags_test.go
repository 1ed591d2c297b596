package secure

import "testing"

func TestContainsMatch(t *testing.T) {
	cases := []struct {
		name, sel, body string
		want            bool
	}{
		{"doc example", "form#login", `<form id="login" method=post>`, true},
		{"id on another tag", "form#login", `<div id="login"></div><form id=other>`, false},
		{"any tag by id", "#login", `<section data-x id='login'>`, true},
		{"upper case tag and attribute", "input[type=password]", `<INPUT TYPE="password" name=pw>`, true},
		{"unquoted, self-closing", "input[type=password]", `<input type=password />`, true},
		{"text input", "input[type=password]", `<input type="text" name="password">`, false},
		{"character reference", "input[type=password]", `<input type="pass&#119;ord">`, true},
		{"first repeated attribute wins", "input[type=password]", `<input type=text type=password>`, false},
		{"classes in any order", "form.signin.wide", `<form class="wide  signin x">`, true},
		{"end tag ignored", "form#login", `</form id=login>`, false},
		{"value in text", "input[type=password]", `type=password <p>input</p>`, false},
		{"truncated tag", "input[type=password]", `<input type="password`, true},
		{"lone angle", "#x", `a < b <`, false},
		{"valueless attribute", "[data-login]", `<div data-login>`, true},
		{"attribute with spaces around =", "input[type=password]", "<input type = \"password\"\n>", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := ParseSelector(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := containsMatch([]byte(tc.body), sel); got != tc.want {
				t.Fatalf("containsMatch(%q, %s) = %v, want %v", tc.body, tc.sel, got, tc.want)
			}
		})
	}
}

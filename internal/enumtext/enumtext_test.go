package enumtext

import "testing"

type color int

var colorNames = []string{"red", "", "blue"}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		in      string
		want    color
		wantErr string
	}{
		{"red", 0, ""},
		{"blue", 2, ""},
		{"green", 0, `"green" is not one of red, blue`},
		{"", 0, `"" is not one of red, blue`},
	}
	for _, tc := range tests {
		var c color
		err := Unmarshal(&c, []byte(tc.in), colorNames)
		switch {
		case tc.wantErr != "":
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("Unmarshal(%q) = %v, want %s", tc.in, err, tc.wantErr)
			}
		case err != nil || c != tc.want:
			t.Errorf("Unmarshal(%q) = %d, %v; want %d", tc.in, c, err, tc.want)
		default:
			if b, err := Marshal(c, colorNames); err != nil || string(b) != tc.in {
				t.Errorf("Marshal(%d) = %q, %v; want %q", c, b, err, tc.in)
			}
		}
	}
	for _, c := range []color{1, 3, -1} {
		if _, err := Marshal(c, colorNames); err == nil {
			t.Errorf("Marshal(%d) has a text form", c)
		}
	}
}

// Package enumtext gives the library's small integer enumerations their
// text form (encoding.TextMarshaler and TextUnmarshaler), so that a
// configuration file names them and decodes straight into the library's
// own types. Standard library only.
package enumtext

import (
	"fmt"
	"strings"
)

// Marshal returns names[v]: the enumeration's values are 0, 1, 2, ...
func Marshal[T ~int](v T, names []string) ([]byte, error) {
	if v < 0 || int(v) >= len(names) || names[v] == "" {
		return nil, fmt.Errorf("%T(%d) has no text form", v, int(v))
	}
	return []byte(names[v]), nil
}

// Unmarshal sets *dst to the value named b, or explains the choices. An
// empty name in names is a value without a text form.
func Unmarshal[T ~int](dst *T, b []byte, names []string) error {
	s := string(b)
	var choices []string
	for i, n := range names {
		if n == "" {
			continue
		}
		if n == s {
			*dst = T(i)
			return nil
		}
		choices = append(choices, n)
	}
	const maxShown = 60
	if len(s) > maxShown {
		s = s[:maxShown-3] + "..."
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(choices, ", "))
}

// String returns names[v], or "Type(n)" for a value without a name.
func String[T ~int](v T, names []string) string {
	if b, err := Marshal(v, names); err == nil {
		return string(b)
	}
	return fmt.Sprintf("%T(%d)", v, int(v))
}

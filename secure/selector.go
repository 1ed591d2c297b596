package secure

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Selector is the small CSS subset a content rule (Rule.Form) uses to spot
// a page that must be served over HTTPS (a login form): one compound
// selector, no combinators — an optional tag, an optional #id, any number
// of .classes and [attr] or [attr=value] tests, e.g.
//
//	input[type=password]
//	form#login
//	#checkout
//	form.signin[method="post"]
//
// Tag and attribute names match case-insensitively, values exactly.
type Selector struct {
	Tag     string // lowercase; "" matches any element
	ID      string
	Classes []string
	Attrs   []AttrTest
}

// AttrTest is one [name] or [name=value] test.
type AttrTest struct {
	Name     string // lowercase
	Value    string
	HasValue bool
}

// ParseSelector parses s, or says what is wrong with it.
func ParseSelector(s string) (*Selector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty selector")
	}
	if len(s) > 256 {
		return nil, errors.New("selector longer than 256 characters")
	}
	sel := &Selector{}
	i := 0
	if i < len(s) && (isNameStart(s[i]) || s[i] == '*') {
		if s[i] == '*' {
			i++
		} else {
			n := scanName(s, i)
			sel.Tag = strings.ToLower(s[i:n])
			i = n
		}
	}
	for i < len(s) {
		switch c := s[i]; c {
		case '#', '.':
			n := scanName(s, i+1)
			if n == i+1 {
				return nil, fmt.Errorf("%q must be followed by a name at offset %d", c, i)
			}
			if c == '#' {
				if sel.ID != "" {
					return nil, errors.New("more than one #id")
				}
				sel.ID = s[i+1 : n]
			} else {
				sel.Classes = append(sel.Classes, s[i+1:n])
			}
			i = n
		case '[':
			t, n, err := parseAttr(s, i)
			if err != nil {
				return nil, err
			}
			sel.Attrs = append(sel.Attrs, t)
			i = n
		case ' ', '\t', '>', '+', '~', ',':
			return nil, fmt.Errorf("only one compound selector is supported (no spaces, combinators or lists), found %q at offset %d", c, i)
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", c, i)
		}
	}
	if sel.Tag == "" && sel.ID == "" && len(sel.Classes) == 0 && len(sel.Attrs) == 0 {
		return nil, errors.New("selector matches every element; name a tag, #id, .class or [attribute]")
	}
	return sel, nil
}

func parseAttr(s string, i int) (AttrTest, int, error) {
	i++ // '['
	n := scanName(s, i)
	if n == i {
		return AttrTest{}, 0, fmt.Errorf("attribute name expected at offset %d", i)
	}
	t := AttrTest{Name: strings.ToLower(s[i:n])}
	i = n
	if i < len(s) && s[i] == '=' {
		i++
		t.HasValue = true
		switch {
		case i < len(s) && (s[i] == '"' || s[i] == '\''):
			q := s[i]
			end := strings.IndexByte(s[i+1:], q)
			if end < 0 {
				return AttrTest{}, 0, errors.New("unterminated quoted value")
			}
			t.Value = s[i+1 : i+1+end]
			i += end + 2
		default:
			n := scanName(s, i)
			if n == i {
				return AttrTest{}, 0, fmt.Errorf("attribute value expected at offset %d (quote values with other characters)", i)
			}
			t.Value = s[i:n]
			i = n
		}
	}
	if i >= len(s) || s[i] != ']' {
		return AttrTest{}, 0, fmt.Errorf("']' expected at offset %d", i)
	}
	return t, i + 1, nil
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isNameChar(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-'
}

// scanName returns the end of the name starting at i (i if there is none).
func scanName(s string, i int) int {
	j := i
	for j < len(s) && isNameChar(s[j]) {
		j++
	}
	return j
}

// Match reports whether an element with this tag name and attributes
// matches the selector. attr looks up an attribute by lowercase name.
func (s *Selector) Match(tag string, attr func(name string) (string, bool)) bool {
	if s.Tag != "" && !strings.EqualFold(s.Tag, tag) {
		return false
	}
	if s.ID != "" {
		if v, ok := attr("id"); !ok || v != s.ID {
			return false
		}
	}
	if len(s.Classes) > 0 {
		v, _ := attr("class")
		have := strings.Fields(v)
		for _, c := range s.Classes {
			if !slices.Contains(have, c) {
				return false
			}
		}
	}
	for _, t := range s.Attrs {
		v, ok := attr(t.Name)
		if !ok || t.HasValue && v != t.Value {
			return false
		}
	}
	return true
}

// String writes the selector back in canonical form.
func (s *Selector) String() string {
	var b strings.Builder
	b.WriteString(s.Tag)
	if s.ID != "" {
		b.WriteString("#" + s.ID)
	}
	for _, c := range s.Classes {
		b.WriteString("." + c)
	}
	for _, t := range s.Attrs {
		b.WriteString("[" + t.Name)
		if t.HasValue {
			q := `"`
			if strings.Contains(t.Value, `"`) {
				q = "'"
			}
			b.WriteString("=" + q + t.Value + q)
		}
		b.WriteString("]")
	}
	if b.Len() == 0 {
		return "*"
	}
	return b.String()
}

package wire

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrBadEncoding reports pairs that were skipped while decoding.
var ErrBadEncoding = errors.New("wire: malformed urlencoded pair")

// EncodeValues writes m in the wire form, keys in sorted order.
func EncodeValues(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	n := 0
	for k, v := range m {
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n + n/4)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		escape(&b, k)
		b.WriteByte('=')
		escape(&b, m[k])
	}
	return b.String()
}

const hexdigits = "0123456789abcdef"

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '-' || c == '*' || c == '_'
}

func escape(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case unreserved(c):
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexdigits[c>>4])
			b.WriteByte(hexdigits[c&15])
		}
	}
}

// Changes is a decoded update: keys to set and keys to delete (disjoint; a
// later pair for the same key overrides an earlier one).
type Changes struct {
	Set    map[string]string
	Delete []string
}

// Empty reports whether c changes nothing.
func (c Changes) Empty() bool { return len(c.Set) == 0 && len(c.Delete) == 0 }

// Encode writes c as a backend sends it in X-Replace-Session: the keys to
// set (sorted), then each deleted key with an empty value ("k=v&gone=").
func (c Changes) Encode() string {
	var b strings.Builder
	b.WriteString(EncodeValues(c.Set))
	for _, k := range c.Delete {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		escape(&b, k)
		b.WriteByte('=')
	}
	return b.String()
}

// DecodeChanges parses an update such as a backend's X-Replace-Session
// header. It always returns what it could read; the error, if any, wraps
// ErrBadEncoding and says how many pairs were skipped and why.
func DecodeChanges(s string) (Changes, error) {
	c := Changes{Set: map[string]string{}}
	// delAt indexes c.Delete, so each pair costs O(1) however many keys
	// came before; a key set again leaves a "" hole (keys are never
	// empty), swept once at the end.
	var delAt map[string]int
	holes := 0
	var skipped int
	var first string
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		rawK, rawV, _ := strings.Cut(pair, "=")
		k, okK := unescape(rawK, true)
		v, okV := unescape(rawV, true)
		if !okK || !okV || k == "" {
			skipped++
			if first == "" {
				first = fmt.Sprintf("pair %d: bad escape or empty key", skipped)
			}
			continue
		}
		if v == "" {
			delete(c.Set, k)
			if _, ok := delAt[k]; !ok {
				if delAt == nil {
					delAt = map[string]int{}
				}
				delAt[k] = len(c.Delete)
				c.Delete = append(c.Delete, k)
			}
			continue
		}
		if i, ok := delAt[k]; ok {
			c.Delete[i] = ""
			delete(delAt, k)
			holes++
		}
		c.Set[k] = v
	}
	if holes > 0 {
		c.Delete = slices.DeleteFunc(c.Delete, func(k string) bool { return k == "" })
	}
	if len(c.Delete) == 0 {
		c.Delete = nil
	}
	if skipped > 0 {
		return c, fmt.Errorf("%w: %d skipped (%s)", ErrBadEncoding, skipped, first)
	}
	return c, nil
}

// DecodeValues parses a whole session in the wire form (deletions are
// no-ops). Like DecodeChanges it returns what it could read plus an error
// naming what it skipped.
func DecodeValues(s string) (map[string]string, error) {
	c, err := DecodeChanges(s)
	return c.Set, err
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescape undoes the urlencoding ('+' is a space, %xx a byte, in either
// case); it fails on a truncated or non-hex escape, and on a NUL (raw or
// %00) unless nul.
func unescape(s string, nul bool) (string, bool) {
	if !nul && strings.IndexByte(s, 0) >= 0 {
		return "", false
	}
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b.WriteByte(' ')
		case '%':
			if i+2 >= len(s) {
				return "", false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 || !nul && hi == 0 && lo == 0 {
				return "", false
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

package secure

import (
	"bytes"
	"html"
	"strings"
)

// containsMatch reports whether the HTML in body has a start tag that
// sel matches. It reads start tags only (no tree, no nesting), which is
// all a compound selector needs; tags inside comments and scripts are
// read too, so a rule errs towards HTTPS, never away from it.
func containsMatch(body []byte, sel *Selector) bool {
	for i := 0; i < len(body); {
		lt := bytes.IndexByte(body[i:], '<')
		if lt < 0 {
			return false
		}
		i += lt + 1
		if i >= len(body) || !isNameStart(body[i]) {
			continue
		}
		tag, attrs, next := startTag(body, i)
		i = next
		if sel.Match(tag, attrs.get) {
			return true
		}
	}
	return false
}

// tagAttrs holds a start tag's attributes in order; the first of a
// repeated name counts, as in a browser.
type tagAttrs []struct{ name, value string }

func (a tagAttrs) get(name string) (string, bool) {
	for _, kv := range a {
		if kv.name == name {
			return kv.value, true
		}
	}
	return "", false
}

// startTag reads the tag at body[i:] (just past '<'): its lowercase name,
// its attributes with character references decoded, and where it ends.
func startTag(body []byte, i int) (tag string, attrs tagAttrs, next int) {
	n := i
	for n < len(body) && !isTagSpace(body[n]) && body[n] != '>' && body[n] != '/' {
		n++
	}
	tag = strings.ToLower(string(body[i:n]))
	i = n
	for i < len(body) {
		for i < len(body) && (isTagSpace(body[i]) || body[i] == '/') {
			i++
		}
		if i >= len(body) || body[i] == '>' {
			return tag, attrs, i + 1
		}
		n := i
		for n < len(body) && !isTagSpace(body[n]) && body[n] != '>' && body[n] != '/' && (body[n] != '=' || n == i) {
			n++
		}
		name := strings.ToLower(string(body[i:n]))
		i = n
		for i < len(body) && isTagSpace(body[i]) {
			i++
		}
		value := ""
		if i < len(body) && body[i] == '=' {
			i++
			for i < len(body) && isTagSpace(body[i]) {
				i++
			}
			value, i = attrValue(body, i)
		}
		attrs = append(attrs, struct{ name, value string }{name, value})
	}
	return tag, attrs, i
}

// attrValue reads a quoted or unquoted attribute value at body[i:].
func attrValue(body []byte, i int) (string, int) {
	if i < len(body) && (body[i] == '"' || body[i] == '\'') {
		q := body[i]
		end := bytes.IndexByte(body[i+1:], q)
		if end < 0 {
			return html.UnescapeString(string(body[i+1:])), len(body)
		}
		return html.UnescapeString(string(body[i+1 : i+1+end])), i + end + 2
	}
	n := i
	for n < len(body) && !isTagSpace(body[n]) && body[n] != '>' {
		n++
	}
	return html.UnescapeString(string(body[i:n])), n
}

func isTagSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

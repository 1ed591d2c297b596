package config

import (
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The decoder is strict: YAML is first parsed into a yaml.Node tree, then
// walked against the Config structs (their yaml tags), so that every problem
// can name its line and key path, and all of them are reported at once:
//
//   - an unknown key (with a suggestion when one is close),
//   - a key written twice,
//   - a value of the wrong kind (a list for a string, a number for a
//     string, "yes" for a boolean — only true and false are booleans),
//   - a bad duration, integer or enumeration value,
//   - YAML aliases, custom tags and more than one document.
//
// Decoding writes over a Config that already holds the defaults, so a key
// that is absent keeps its default and a key that is present always wins,
// even when it is the zero value.

// defaulter is implemented by types whose new instances (list elements,
// optional blocks) start from defaults.
type defaulter interface{ setDefaults() }

var (
	durationType        = reflect.TypeFor[time.Duration]()
	secretType          = reflect.TypeFor[Secret]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

type decoder struct {
	p *problems
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse reads exactly one YAML document into a node. Syntax errors are
// reported with their line.
func parse(p *problems, data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true // empty file
		}
		syntaxError(p, err)
		return nil, false
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		syntaxError(p, err)
		return nil, false
	default:
		p.errAt(extra.Line, "", "the file holds more than one YAML document (---); put everything in one")
		return nil, false
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	return doc.Content[0], true
}

func syntaxError(p *problems, err error) {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errAt(line, "", "YAML syntax: %s", m[2])
		return
	}
	p.errAt(0, "", "YAML syntax: %s", strings.TrimPrefix(msg, "yaml: "))
}

// decode stores node n (at key path) into v.
func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind == yaml.AliasNode {
		d.p.errAt(n.Line, path, "YAML aliases (*%s) are not supported; write the value out", n.Value)
		return
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		d.p.errAt(n.Line, path, "custom YAML tag %s is not supported", n.Tag)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		// "key:" with nothing after it: an optional block with its
		// defaults ("memory:"), anything else is a mistake.
		if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct {
			if v.IsNil() {
				v.Set(newDefault(v.Type().Elem()))
			}
			return
		}
		d.p.errAt(n.Line, path, "has no value")
		return
	}
	switch {
	case v.Type() == durationType:
		d.duration(n, path, v)
		return
	case v.Kind() != reflect.Pointer && reflect.PointerTo(v.Type()).Implements(textUnmarshalerType):
		d.text(n, path, v)
		return
	}
	switch v.Kind() {
	case reflect.String:
		if s, ok := d.str(n, path, false); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.p.errAt(n.Line, path, "%s is not true or false", describe(n, false))
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	case reflect.Int:
		var i int64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil || i > math.MaxInt32 || i < math.MinInt32 {
			d.p.errAt(n.Line, path, "%s is not a whole number", describe(n, false))
			return
		}
		v.SetInt(i)
	case reflect.Slice:
		d.slice(n, path, v)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(newDefault(v.Type().Elem()))
		}
		d.decode(n, path, v.Elem())
	case reflect.Struct:
		d.mapping(n, path, v)
	default:
		// Only reachable by adding a field of a new kind to Config.
		d.p.errAt(n.Line, path, "internal error: cannot decode into %s", v.Type())
	}
}

// newDefault allocates a *T, with T's defaults if it has any.
func newDefault(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	if df, ok := p.Interface().(defaulter); ok {
		df.setDefaults()
	}
	return p
}

// str requires a string scalar: a quoted or plain YAML string, never a
// number or boolean (those are usually mistakes: "port: 8080" for an
// address, "yes" for a flag).
func (d *decoder) str(n *yaml.Node, path string, secret bool) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		hint := ""
		if n.Kind == yaml.ScalarNode {
			hint = " (put it in quotes if it is meant as text)"
		}
		d.p.errAt(n.Line, path, "want a string, got %s%s", describe(n, secret), hint)
		return "", false
	}
	return n.Value, true
}

func (d *decoder) text(n *yaml.Node, path string, v reflect.Value) {
	secret := v.Type() == secretType
	s, ok := d.str(n, path, secret)
	if !ok {
		return
	}
	if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
		d.p.errAt(n.Line, path, "%v", err)
	}
}

func (d *decoder) duration(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		if n.Value == "0" {
			v.SetInt(0)
			return
		}
		d.p.errAt(n.Line, path, "%s has no unit; write a duration like \"%ss\" or \"%sm\"", n.Value, n.Value, n.Value)
		return
	}
	s, ok := d.str(n, path, false)
	if !ok {
		return
	}
	dur, err := time.ParseDuration(s)
	switch {
	case err != nil:
		d.p.errAt(n.Line, path, "%s is not a duration (write it like \"30s\", \"15m\" or \"1h30m\")", quote(s))
	case dur < 0:
		d.p.errAt(n.Line, path, "%s is negative", quote(s))
	default:
		v.SetInt(int64(dur))
	}
}

func (d *decoder) slice(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.p.errAt(n.Line, path, "want a list, got %s", describe(n, false))
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.p.src.lines[p] = item.Line
		elem := newDefault(v.Type().Elem()).Elem()
		d.decode(item, p, elem)
		out = reflect.Append(out, elem)
	}
	v.Set(out)
}

func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.p.errAt(n.Line, path, "want a block of keys (key: value), got %s", describe(n, false))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			d.p.errAt(k.Line, path, "a key must be a plain name, got %s", describe(k, false))
			continue
		}
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.p.errAt(k.Line, p, "key written twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			d.p.errAt(k.Line, p, "unknown key%s", suggest(k.Value, fields))
			continue
		}
		d.p.src.lines[p] = k.Line
		d.decode(val, p, v.Field(idx))
	}
}

// yamlFields maps the yaml names of t's fields to their index.
func yamlFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		out[name] = i
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names a node's kind (and value, unless it is secret) for a
// message.
func describe(n *yaml.Node, secret bool) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a block of keys"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	kind := "the text "
	switch n.Tag {
	case "!!int", "!!float":
		kind = "the number "
	case "!!bool":
		kind = "the boolean "
	case "!!timestamp":
		kind = "the date "
	case "!!null":
		return "nothing"
	}
	if secret {
		return strings.TrimSuffix(kind, " ") + " (value hidden)"
	}
	if n.Tag == "!!str" {
		return quote(n.Value)
	}
	return kind + n.Value
}

// suggest finds a known key close to an unknown one.
func suggest(key string, fields map[string]int) string {
	best, bestD := "", 3
	for name := range fields {
		if d := editDistance(key, name); d < bestD || d == bestD && name < best {
			best, bestD = name, d
		}
	}
	if best == "" || bestD > 2 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance, for short keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

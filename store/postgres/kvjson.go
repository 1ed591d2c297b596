package postgres

import (
	"encoding/json"
	"fmt"
)

// decodeKV decodes the kv column as pgx hands it over for a *[]byte
// (the jsonb value's JSON text; nil holds no data). Every load reads it, so the common form, a flat object of
// strings that escapeKV made (printable ASCII; PostgreSQL's output escapes
// only '"' and '\'), is parsed by hand; anything else goes to
// encoding/json, whose answer parseKV gives whenever it gives one.
func decodeKV(b []byte) (map[string]string, error) {
	if b == nil {
		return nil, nil
	}
	if m, ok := parseKV(b); ok {
		return m, nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("corrupt kv column: %w", err)
	}
	return m, nil
}

// parseKV parses a JSON object whose values are all strings. ok is false
// for anything it does not handle (then the caller asks encoding/json).
func parseKV(b []byte) (m map[string]string, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	m = make(map[string]string)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return m, skipSpace(b, i+1) == len(b)
	}
	for {
		k, j, ok := parseString(b, i)
		if !ok {
			return nil, false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		v, j, ok := parseString(b, skipSpace(b, i+1))
		if !ok {
			return nil, false
		}
		m[k] = v
		i = skipSpace(b, j)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return m, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

// parseString reads the JSON string starting at b[i] (printable ASCII,
// escapes \" \\ \/ only) and returns it and the index after it.
func parseString(b []byte, i int) (s string, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	i++
	start := i
	for ; i < len(b) && b[i] != '\\'; i++ {
		switch c := b[i]; {
		case c == '"':
			return string(b[start:i]), i + 1, true
		case c < 0x20 || c >= 0x7f:
			return "", 0, false
		}
	}
	buf := append([]byte(nil), b[start:i]...)
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			return string(buf), i + 1, true
		case c == '\\':
			if i+1 >= len(b) || (b[i+1] != '"' && b[i+1] != '\\' && b[i+1] != '/') {
				return "", 0, false
			}
			buf = append(buf, b[i+1])
			i += 2
		case c < 0x20 || c >= 0x7f:
			return "", 0, false
		default:
			buf = append(buf, c)
			i++
		}
	}
	return "", 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

package postgres

import (
	"context"
	"encoding/json"
	"maps"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/internal/testenv"
)

// kvSamples are data maps whose escaped form exercises the JSON text:
// quotes, backslashes, slashes, JSON punctuation, escapeKV's own escapes.
var kvSamples = []map[string]string{
	{},
	{"k": "v"},
	{"": ""},
	{`"quoted"`: `a"b`, `back\slash`: `\`, "slash/": "/", `\"`: `"\`},
	{"{": "}", ":": ",", "[x]": "1, 2", " spaced ": "\t tab\nline\r", "nul": "a\x00b"},
	{"utf8": "Zoë ☃ 𝄞", "bad": "\xff\xfe", "del": "\x7f", "%": "100%", "%41": "%zz"},
}

// TestParseKVAgreesWithEncodingJSON: on PostgreSQL's own output of the kv
// column, and on JSON texts written other ways, parseKV either answers
// what encoding/json answers or declines (ok false), and it does not
// decline PostgreSQL's output of escaped data (the fast path is taken).
func TestParseKVAgreesWithEncodingJSON(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, data := range kvSamples {
		kv := make(map[string]string, len(data))
		for k, v := range data {
			kv[escapeKV(k)] = escapeKV(v)
		}
		var text []byte
		if err := conn.QueryRow(ctx, `SELECT $1::jsonb`, kv).Scan(&text); err != nil {
			t.Fatal(err)
		}
		got, ok := parseKV(text)
		if !ok || !maps.Equal(got, kv) {
			t.Errorf("parseKV(%s) = %v, %v; want %v, true", text, got, ok, kv)
		}
		row, err := decodeKV(text)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range row {
			dk, _ := unescapeKV(k)
			dv, _ := unescapeKV(v)
			if data[dk] != dv {
				t.Errorf("%q: round trip gave %q, want %q", dk, dv, data[dk])
			}
		}
	}
	for _, text := range []string{
		`{}`, ` { } `, `{"a":"b"}`, `{"a" : "b" , "c":"d"}`, "{\n\t\"a\": \"b\"\r\n}",
		`{"a": "\u0041"}`, `{"a": "\n"}`, `{"a": 1}`, `{"a": null}`, `{"a": "b",}`, `{"a": "b"} x`,
		`{"a": "b"`, `{"a" "b"}`, `["a"]`, `null`, ``, `{"a": "\"\\\/"}`, `{"a": "b", "a": "c"}`,
		`{"a": "b\`, `{"a": "é"}`, `{"a`, `{"a":`, `{"a": "b\q"}`,
	} {
		got, ok := parseKV([]byte(text))
		if !ok {
			continue
		}
		var want map[string]string
		if err := json.Unmarshal([]byte(text), &want); err != nil {
			t.Errorf("parseKV(%s) accepted what encoding/json refuses (%v): %v", text, err, got)
		} else if !maps.Equal(got, want) {
			t.Errorf("parseKV(%s) = %v, encoding/json %v", text, got, want)
		}
	}
	if m, err := decodeKV(nil); m != nil || err != nil {
		t.Errorf("decodeKV(nil) = %v, %v; want nil, nil (a row whose data is in its blob)", m, err)
	}
	if _, err := decodeKV([]byte(`{"a": 1}`)); err == nil {
		t.Error("decodeKV of a non-string value: no error")
	}
}

// BenchmarkDecodeKV: the kv column of a five-key session, by parseKV and
// by encoding/json (what pgx's jsonb scan into a map does).
func BenchmarkDecodeKV(b *testing.B) {
	text := []byte(`{"a": "1", "b": "two", "cart": "3 items", "csrf": "Zm9vYmFyYmF6", "lang": "en-GB"}`)
	b.Run("parseKV", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeKV(text); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var m map[string]string
			if err := json.Unmarshal(text, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

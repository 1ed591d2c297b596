package wire

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseActionsWhole: a login is read whole, so a user ID with a comma
// or an invalid byte is refused, never cut down to a prefix that names
// someone else.
func TestParseActionsWhole(t *testing.T) {
	for _, tc := range []struct {
		fields           []string
		want             Actions
		refused, unknown bool
	}{
		{fields: []string{"login user=alice"}, want: Actions{Login: "alice"}},
		{fields: []string{"LOGIN user=alice"}, want: Actions{Login: "alice"}},
		{fields: []string{"  login user=alice  "}, want: Actions{Login: "alice"}},
		{fields: []string{"login user=a,b"}, refused: true},
		{fields: []string{"login user=a, logout"}, refused: true},
		{fields: []string{"logout, login user=a"}, refused: true},
		{fields: []string{"regenerate, login user=admin"}, refused: true},
		{fields: []string{"login user=a;b"}, refused: true},
		{fields: []string{"login user=a b"}, refused: true},
		{fields: []string{"login alice"}, refused: true},
		{fields: []string{"login user=\xff"}, refused: true},
		{fields: []string{"login user=a\u200bb"}, refused: true},
		{fields: []string{"login user=" + strings.Repeat("a", MaxUserLen+1)}, refused: true},
		{fields: []string{"login user=" + strings.Repeat("a", MaxUserLen)}, want: Actions{Login: strings.Repeat("a", MaxUserLen)}},
		{fields: []string{"login user=alice", "login user=bob"}, refused: true},
		{fields: []string{"login user=alice", "login user=alice"}, want: Actions{Login: "alice"}},
		{fields: []string{"login user=alice", "regenerate"}, want: Actions{Login: "alice", Regenerate: true}},
		{fields: []string{"regenerate, logout"}, want: Actions{Logout: true, Regenerate: true}},
		{fields: []string{"Require-Secure,,"}, want: Actions{RequireSecure: true}},
		{fields: []string{"logout, frobnicate"}, want: Actions{Logout: true}, unknown: true},
		{fields: []string{""}},
	} {
		got, err := ParseActions(tc.fields)
		if got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.fields, got, tc.want)
		}
		if r := errors.Is(err, ErrActionRefused); r != tc.refused {
			t.Errorf("%q: refused = %v (%v), want %v", tc.fields, r, err, tc.refused)
		}
		if u := errors.Is(err, ErrUnknownAction); u != tc.unknown {
			t.Errorf("%q: unknown = %v (%v), want %v", tc.fields, u, err, tc.unknown)
		}
	}
}

func TestActionsRoundTrip(t *testing.T) {
	got, err := ParseActions([]string{Login("bob"), ActionLogout + ", " + ActionRegenerate + ", " + ActionRequireSecure})
	want := Actions{Login: "bob", Logout: true, Regenerate: true, RequireSecure: true}
	if err != nil || got != want {
		t.Fatalf("ParseActions = %+v, %v; want %+v", got, err, want)
	}
}

// TestHTTPDPairs: the table as httpd 2.4 reads it.
func TestHTTPDPairs(t *testing.T) {
	type kv struct{ k, v string }
	for _, tc := range []struct {
		name string
		in   string
		want []kv
	}{
		{"escapes", "user=alice&cart=1%2C2+3", []kv{{"user", "alice"}, {"cart", "1,2 3"}}},
		{"runs of &", "&&a=1&&", []kv{{"a", "1"}}},
		{"runs of =", "a==1", []kv{{"a", "1"}}},
		{"leading = skipped", "=a=1", []kv{{"a", "1"}}},
		{"after a second = dropped", "a=1=2", []kv{{"a", "1"}}},
		{"deletions", "a=&b", []kv{{"a", ""}, {"b", ""}}},
		{"bad escapes skipped", "a=%00&b=%zz&c=%4&d=ok", []kv{{"d", "ok"}}},
		{"escaped NUL key skipped", "%00=x&k%3d=v", []kv{{"k=", "v"}}},
		// A raw NUL is skipped like %00, escaped or not (the fuzz corpus's
		// testdata/fuzz/FuzzHTTPDPairs/390ca22614d4ce1a is the bare "\x00").
		{"raw NUL alone", "\x00", nil},
		{"raw NUL in key", "a\x00b=1&c=2", []kv{{"c", "2"}}},
		{"raw NUL in value", "a=1\x002&c=2", []kv{{"c", "2"}}},
		{"raw NUL in escaped value", "a=%41\x00&c=2", []kv{{"c", "2"}}},
		{"raw NUL after second =", "a=1=\x00", []kv{{"a", "1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []kv
			for k, v := range HTTPDPairs(tc.in) {
				got = append(got, kv{k, v})
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("HTTPDPairs(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestInfoRoundTrip: what the gateway encodes, a backend parses back, and
// malformed parts are skipped.
func TestInfoRoundTrip(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	in := Info{Sessions: "on", Mode: "mixed", Transport: "http", Partition: "insecure", Ignored: "__Host-ssid",
		Why: "A rule said so.", HTTPOrigin: "http://shop.example", HTTPSOrigin: "https://shop.example",
		Cookies: []string{"sid", "__Host-ssid"}, Events: []Event{{"created", at}, {"step-up", at.Add(time.Second)}},
		Now: []string{"step-up"}}
	got := ParseInfo(in.Encode())
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("ParseInfo(Encode) = %+v\nwant %+v", got, in)
	}
	if got := ParseInfo(""); !reflect.DeepEqual(got, Info{}) {
		t.Fatalf("ParseInfo(\"\") = %+v", got)
	}
	bad := ParseEvents("created 1,junk,login x, 2,logout 3")
	want := []Event{{"created", time.Unix(1, 0)}, {"logout", time.Unix(3, 0)}}
	if !reflect.DeepEqual(bad, want) {
		t.Fatalf("ParseEvents skipped wrongly: %v", bad)
	}
}

func TestHeadersWithDefaults(t *testing.T) {
	got := Headers{User: "X-App-User"}.WithDefaults()
	want := Headers{Session: HeaderSession, User: "X-App-User", Ref: HeaderRef, Secure: HeaderSecure, CSRF: HeaderCSRF,
		CSRFField: HeaderCSRFField, Info: HeaderInfo, Email: HeaderEmail, Groups: HeaderGroups, Replace: HeaderReplace, Action: HeaderAction}
	if got != want {
		t.Fatalf("WithDefaults = %+v, want %+v", got, want)
	}
}

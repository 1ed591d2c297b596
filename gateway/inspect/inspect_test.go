package inspect

import (
	"testing"
)

func TestTakeNote(t *testing.T) {
	for _, tc := range []struct {
		raw, v, rest string
		ok           bool
	}{
		{"", "", "", false},
		{"a=1", "", "a=1", false},
		{NoteParam + "=r2", "r2", "", true},
		{"a=1&" + NoteParam + "=r2&b=" + NoteParam, "r2", "a=1&b=" + NoteParam, true},
		{NoteParam + "=r2&" + NoteParam + "=auth", "r2", "", true},
		{"x" + NoteParam + "=r2", "", "x" + NoteParam + "=r2", false},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			v, rest, ok := takeNote(tc.raw)
			if v != tc.v || rest != tc.rest || ok != tc.ok {
				t.Fatalf("takeNote(%q) = %q, %q, %v; want %q, %q, %v", tc.raw, v, rest, ok, tc.v, tc.rest, tc.ok)
			}
		})
	}
}

func TestWithNote(t *testing.T) {
	s := New(Config{HTTPOrigin: "http://app.test", HTTPSOrigin: "https://app.test"})
	for _, tc := range []struct{ loc, want string }{
		{"/", "/?" + NoteParam + "=r1"},
		{"/a?b=1#top", "/a?b=1&" + NoteParam + "=r1#top"},
		{"https://app.test/x", "https://app.test/x?" + NoteParam + "=r1"},
		{"http://app.test/x", "http://app.test/x?" + NoteParam + "=r1"},
		{"https://app.test.evil/x", ""},
		{"https://evil.example/", ""},
		{"//evil.example/", ""},
		{"/\\evil.example/", ""},
		{"", ""},
	} {
		t.Run(tc.loc, func(t *testing.T) {
			if got := s.withNote(tc.loc, "r1"); got != tc.want {
				t.Fatalf("withNote(%q) = %q, want %q", tc.loc, got, tc.want)
			}
		})
	}
}

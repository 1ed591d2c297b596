package session_test

import (
	"net/http"
	"testing"

	"github.com/sessiond/sessiond/session"
)

func TestRemoveCookies(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"none", nil, nil},
		{"only session", []string{"sid=a"}, nil},
		{"others kept in order", []string{"a=1; sid=x; b=2"}, []string{"a=1; b=2"}},
		{"every line", []string{"sid=x; a=1", "__Host-ssid=y", "b=2; sid=z"}, []string{"a=1; b=2"}},
		{"spaced name", []string{"sid =x; a=1"}, []string{"a=1"}},
		{"no value", []string{"sid; a"}, []string{"a"}},
		{"similar names kept", []string{"sidx=1; xsid=2"}, []string{"sidx=1; xsid=2"}},
		{"empty parts", []string{";; a=1 ;"}, []string{"a=1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": tc.lines}
			session.RemoveCookies(h, "sid", "__Host-ssid")
			got := h.Values("Cookie")
			if len(got) != len(tc.want) || len(got) > 0 && got[0] != tc.want[0] {
				t.Fatalf("Cookie = %q, want %q", got, tc.want)
			}
		})
	}
}

package secure_test

import (
	"strings"
	"testing"

	"github.com/sessiond/sessiond/secure"
)

func TestPathMatcherMatch(t *testing.T) {
	for _, tc := range []struct {
		name, rule string
		exact      bool
		match      []string
		miss       []string
	}{
		{"segment prefix", "/private", false,
			[]string{"/private", "/private/", "/private/x", "/private/x/y.txt"},
			[]string{"/", "/privatex", "/privateer", "/private-x", "/x/private", "/priv"}},
		{"other case", "/private", false,
			[]string{"/PRIVATE/x", "/Private/", "/pRiVaTe", "/PRIVATE.JSON"},
			nil},
		{"extension", "/private", false,
			[]string{"/private.json", "/private.json/", "/private.tar.gz", "/private.", "/Private.xml"},
			[]string{"/private.json/x", "/privatejson", "/private_json"}},
		{"exact case", "/private", true,
			[]string{"/private", "/private/x", "/private.json"},
			[]string{"/PRIVATE/x", "/Private/", "/Private.json"}},
		{"deeper rule", "/a/private", false,
			[]string{"/a/private", "/A/PRIVATE/x", "/a/private.json"},
			[]string{"/a", "/a/", "/a.json/private", "/b/private", "/a/private.json/x"}},
		{"rule with a dot", "/report.v1", false,
			[]string{"/report.v1", "/report.v1.pdf", "/REPORT.V1/x"},
			[]string{"/report", "/report.pdf", "/report.v2"}},
		{"directory rule", "/static/", false,
			[]string{"/static/", "/static/x", "/STATIC/x"},
			[]string{"/static", "/static.json", "/staticx/"}},
		{"root", "/", false,
			[]string{"/", "/x", "/a/b"},
			nil},
		{"unicode fold", "/straße", false,
			[]string{"/STRAẞE/x"},
			[]string{"/strasse"}},
		{"kelvin sign", "/kiosk", false,
			[]string{"/\u212aiosk"},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := secure.PathMatcher{ExactCase: tc.exact}
			for _, p := range tc.match {
				if !m.Match(p, tc.rule) {
					t.Errorf("Match(%q, %q) = false; want true", p, tc.rule)
				}
			}
			for _, p := range tc.miss {
				if m.Match(p, tc.rule) {
					t.Errorf("Match(%q, %q) = true; want false", p, tc.rule)
				}
			}
		})
	}
}

func TestPathMatcherGlob(t *testing.T) {
	for _, tc := range []struct {
		name, glob, p string
		exact, want   bool
	}{
		{"same case", "/account/*", "/account/x", false, true},
		{"other case", "/account/*", "/ACCOUNT/X", false, true},
		{"class in other case", "/[A-C]*", "/b", false, true},
		{"exact case", "/account/*", "/ACCOUNT/x", true, false},
		{"not below", "/account/*", "/account/x/y", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (secure.PathMatcher{ExactCase: tc.exact}).MatchGlob(tc.p, tc.glob); got != tc.want {
				t.Errorf("MatchGlob(%q, %q) = %v; want %v", tc.p, tc.glob, got, tc.want)
			}
		})
	}
}

func TestPathMatcherOverlapsCovers(t *testing.T) {
	for _, tc := range []struct {
		name, a, b                  string
		exact                       bool
		overlaps, aCoversB, bCovers bool
	}{
		{"same", "/private", "/private", false, true, true, true},
		{"below", "/private", "/private/static", false, true, true, false},
		{"other case below", "/Private", "/private/x", false, true, true, false},
		{"other case, exact", "/Private", "/private/x", true, false, false, false},
		{"extension", "/report", "/report.pdf", false, true, false, false},
		{"extension of extension", "/report.v1", "/report", false, true, false, false},
		{"siblings", "/a", "/b", false, false, false, false},
		{"longer name", "/private", "/privateer", false, false, false, false},
		{"directory and itself", "/static/", "/static", false, true, false, true},
		{"directory and extension", "/static/", "/static.json", false, false, false, false},
		{"directory and below", "/static/", "/static/x", false, true, true, false},
		{"two directories", "/static/", "/static.json/", false, false, false, false},
		{"root", "/", "/x", false, true, true, false},
		{"extension below", "/a/b.json", "/a", false, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := secure.PathMatcher{ExactCase: tc.exact}
			if got := m.Overlaps(tc.a, tc.b); got != tc.overlaps {
				t.Errorf("Overlaps(%q, %q) = %v; want %v", tc.a, tc.b, got, tc.overlaps)
			}
			if got := m.Overlaps(tc.b, tc.a); got != tc.overlaps {
				t.Errorf("Overlaps(%q, %q) = %v; want %v", tc.b, tc.a, got, tc.overlaps)
			}
			if got := m.Covers(tc.a, tc.b); got != tc.aCoversB {
				t.Errorf("Covers(%q, %q) = %v; want %v", tc.a, tc.b, got, tc.aCoversB)
			}
			if got := m.Covers(tc.b, tc.a); got != tc.bCovers {
				t.Errorf("Covers(%q, %q) = %v; want %v", tc.b, tc.a, got, tc.bCovers)
			}
		})
	}
}

// TestPathMatcherSetsAgree: what Overlaps and Covers say of two rules is
// what Match does with every path built from their segments (the path
// itself, with an extension, a trailing slash, one more segment, in
// another case): the configuration's checks prove what the gateway does.
func TestPathMatcherSetsAgree(t *testing.T) {
	rules := []string{"/", "/a", "/a/", "/A", "/a.b", "/a.b/", "/a.b.c", "/a/b", "/a/b/", "/a/B.c", "/ab", "/b", "/a.c"}
	var paths []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	add("/")
	for _, r := range rules {
		base := strings.TrimSuffix(r, "/")
		for _, p := range []string{base, base + "/", base + ".x", base + ".x/", base + ".x/y", base + "/y", base + "/y.z", base + ".c"} {
			if p != "" {
				add(p)
				add(strings.ToUpper(p))
			}
		}
	}
	for _, exact := range []bool{false, true} {
		m := secure.PathMatcher{ExactCase: exact}
		for _, a := range rules {
			for _, b := range rules {
				var both, bNotA string
				for _, p := range paths {
					ma, mb := m.Match(p, a), m.Match(p, b)
					if ma && mb && both == "" {
						both = p
					}
					if mb && !ma && bNotA == "" {
						bNotA = p
					}
				}
				if got := m.Overlaps(a, b); got != (both != "") {
					t.Errorf("exact %v: Overlaps(%q, %q) = %v; a path both match: %q", exact, a, b, got, both)
				}
				if got := m.Covers(a, b); got != (bNotA == "") {
					t.Errorf("exact %v: Covers(%q, %q) = %v; a path only %q matches: %q", exact, a, b, got, b, bNotA)
				}
			}
		}
	}
}

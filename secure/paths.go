package secure

import (
	"path"
	"strings"
)

// PathMatcher is the one way path rules match a request's canonical path
// (CanonicalPath): redirect rules, and the gateway's include, exclude,
// auth_required and cacheable lists all use it, and so do the checks of
// its configuration (Overlaps, Covers), so that what a check proves is
// what the gateway does: a path is protected the way backends resolve it.
//
// A rule is a path prefix matched segment by segment: "/private" covers
//
//   - "/private" itself and every path below it ("/private/", "/private/x");
//   - "/private.json", "/private.tar.gz", "/private." — a last segment that
//     is the rule's last segment followed by a dot and anything (Rails and
//     Spring route /private.json to /private); "/private.json/x" is not
//     covered, nor is "/privateer" or "/private-x";
//   - with ExactCase false (the default) every spelling of those in
//     another case: "/PRIVATE/x", "/Private.JSON" (Express, IIS and
//     case-insensitive file systems resolve them to /private), compared
//     with Unicode simple case folding.
//
// A rule ending in "/" ("/static/") covers the paths below it ("/static/",
// "/static/x") but not "/static" nor "/static.json"; "/" covers every
// path. Globs (a redirect rule's glob) match the whole path with
// path.Match, in another case too unless ExactCase.
type PathMatcher struct {
	// ExactCase makes segments match only in the rule's own case, for a
	// site whose backend tells /Private from /private.
	ExactCase bool
}

// ruleSegments splits a rule into its segments ("/a/b/" → "a", "b") and
// reports whether it ended in "/" (dir: only what lies below it). The
// root rule "/" has no segments: it covers every path.
func ruleSegments(rule string) (segs []string, dir bool) {
	r := strings.TrimPrefix(rule, "/")
	dir = strings.HasSuffix(r, "/")
	if r = strings.TrimSuffix(r, "/"); r == "" {
		return nil, false
	}
	return strings.Split(r, "/"), dir
}

func (m PathMatcher) equal(a, b string) bool {
	if m.ExactCase {
		return a == b
	}
	return strings.EqualFold(a, b)
}

// withExtension reports whether seg is base, a dot and anything after it
// ("private.json" for "private"). A rule segment that is empty (the rule
// ended in "/") has no extensions.
func (m PathMatcher) withExtension(seg, base string) bool {
	if base == "" {
		return false
	}
	for i := strings.IndexByte(seg, '.'); i >= 0; {
		if m.equal(seg[:i], base) {
			return true
		}
		j := strings.IndexByte(seg[i+1:], '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// Match reports whether the canonical URL path p is covered by rule.
func (m PathMatcher) Match(p, rule string) bool {
	rs, dir := ruleSegments(rule)
	rest := strings.TrimPrefix(p, "/")
	for i, r := range rs {
		seg, after, more := strings.Cut(rest, "/")
		switch {
		case i < len(rs)-1:
			if !more || !m.equal(seg, r) {
				return false
			}
			rest = after
		case dir:
			return more && m.equal(seg, r)
		default:
			// p ends here ("/private"), goes on below ("/private/x"), or
			// ends with an extension ("/private.json", "/private.json/").
			return m.equal(seg, r) || (!more || after == "") && m.withExtension(seg, r)
		}
	}
	return true
}

// MatchGlob reports whether p matches the path.Match pattern glob, in
// another case too unless ExactCase.
func (m PathMatcher) MatchGlob(p, glob string) bool {
	if !m.ExactCase {
		p, glob = foldCase(p), foldCase(glob)
	}
	ok, _ := path.Match(glob, p)
	return ok
}

// foldCase maps every case variant of a character to one (ToUpper, then
// ToLower, joins what simple folding joins: K, k and the Kelvin sign; S, s
// and ſ).
func foldCase(s string) string { return strings.ToLower(strings.ToUpper(s)) }

// Overlaps reports whether some path is covered by both rules (an
// auth_required path that overlaps an exclude has paths without sessions,
// where login cannot be required).
func (m PathMatcher) Overlaps(a, b string) bool {
	as, adir := ruleSegments(a)
	bs, bdir := ruleSegments(b)
	if len(as) > len(bs) {
		as, bs, adir, bdir = bs, as, bdir, adir
	}
	if len(as) == 0 {
		return true
	}
	n := len(as) - 1
	for i := range n {
		if !m.equal(as[i], bs[i]) {
			return false
		}
	}
	x, y := as[n], bs[n]
	if len(as) < len(bs) {
		// A path covered by b goes on below position n: only a's own
		// segment can be there, not one with an extension.
		return m.equal(x, y)
	}
	// Equal lengths: the same last segment, or one rule's extended form
	// ("/private.json") is the other's own segment.
	return m.equal(x, y) || !bdir && m.withExtension(x, y) || !adir && m.withExtension(y, x)
}

// Covers reports whether every path covered by inner is covered by outer
// (an auth_required path is in the session's include list only if one
// include covers it whole: "/private" does not cover "/private.json",
// whose "/private.json/x" it leaves out).
func (m PathMatcher) Covers(outer, inner string) bool {
	outs, odir := ruleSegments(outer)
	ins, idir := ruleSegments(inner)
	switch {
	case len(outs) == 0:
		return true
	case len(outs) > len(ins):
		return false
	case len(outs) == len(ins) && odir && !idir:
		return false // "/static/" leaves out "/static" and "/static.json"
	}
	for i := range outs {
		if !m.equal(outs[i], ins[i]) {
			return false
		}
	}
	return true
}

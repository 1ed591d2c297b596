package session

import (
	"net/http"
	"slices"
	"strings"
)

// Reading and removing cookies from a request's Cookie headers: the one
// parse the session middleware and the gateway share.

// cookieValues finds the values of the cookie called name across all
// Cookie headers without allocating (the same parse as
// Request.CookiesNamed). It returns the first value and how many there
// were: more than one is cookie tossing, never resolved by picking one.
func cookieValues(r *http.Request, name string) (first string, n int) {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if n == 0 {
				first = v
			}
			n++
		}
	}
	return first, n
}

// RemoveCookies drops the named cookies from the Cookie header(s) of a
// request about to be forwarded (mod_session's SessionCookieRemove), so
// that the upstream never sees a session ID. Names are compared after
// trimming spaces, so "sid =x" goes too; the other cookies are kept, in
// order, on one Cookie line.
func RemoveCookies(h http.Header, names ...string) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	var kept []string
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			p := strings.TrimSpace(part)
			if p == "" {
				continue
			}
			name, _, _ := strings.Cut(p, "=")
			if !slices.Contains(names, strings.TrimSpace(name)) {
				kept = append(kept, p)
			}
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}

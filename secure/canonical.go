package secure

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// CanonicalPath is the path that rules judge, so that a path is protected
// the way backends resolve it whatever its spelling: r's
// path decoded once (so %2e, %2f and %3b count as '.', '/' and ';'), each
// segment without its ";" parameters (Tomcat and Spring strip them:
// /private;jsessionid=1/x is /private/x there, and /x/..;/private is
// /private), without "." or ".." segments or doubled slashes, a trailing
// slash kept. ok reports whether the request's raw path already is that
// path; a request for which it is not must not be judged by path rules,
// since the backend (a file server, a framework) may resolve it to another
// path than the rule saw: /x/../private is /private to a file server.
func CanonicalPath(r *http.Request) (canon string, ok bool) {
	p := r.URL.Path
	if p == "" || p[0] != '/' {
		return "/", false
	}
	canon = Canonical(p)
	raw := r.URL.EscapedPath()
	encodedSlash := strings.Contains(raw, "%2f") || strings.Contains(raw, "%2F")
	return canon, canon == p && !encodedSlash && !strings.Contains(p, "\\")
}

// Canonical is the canonical form of the decoded path p (which starts
// with "/"): each segment cut at its first ';', then path.Clean, a
// trailing slash kept. CanonicalPath judges requests by it; a path rule
// in any other form would never match.
func Canonical(p string) string {
	if strings.Contains(p, ";") {
		segs := strings.Split(p, "/")
		for i, s := range segs {
			segs[i], _, _ = strings.Cut(s, ";")
		}
		p = strings.Join(segs, "/")
	}
	canon := path.Clean(p)
	if strings.HasSuffix(p, "/") && canon != "/" {
		canon += "/"
	}
	return canon
}

// Canonicalize answers a request whose path is not canonical and reports
// whether it did: GET and HEAD are redirected (302) to the canonical path
// with the same query, other methods are refused with 400 (a redirect
// would make the client send its body again to a path it did not ask
// for). Place it before anything that judges paths; Rules.Handler calls
// it first.
func Canonicalize(w http.ResponseWriter, r *http.Request) bool {
	canon, ok := CanonicalPath(r)
	if ok {
		return false
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "The request path is not in canonical form (no ./, ../, //, ;parameters or encoded slashes).", http.StatusBadRequest)
		return true
	}
	target := (&url.URL{Path: canon, RawQuery: r.URL.RawQuery}).RequestURI()
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
	return true
}

package config

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/sessiond/sessiond/secure"
)

// validateHeaders checks the gateway protocol's header names: valid,
// distinct, and not standard headers the proxy must handle itself.
func validateHeaders(s *Site, sp string, p *problems) {
	h := s.Headers
	seen := map[string]string{}
	for _, f := range []struct{ key, v string }{
		{"session", h.Session}, {"user", h.User}, {"ref", h.Ref},
		{"secure", h.Secure}, {"replace", h.Replace}, {"action", h.Action},
		{"email", h.Email}, {"groups", h.Groups},
	} {
		hp := join(sp, "headers."+f.key)
		canon := http.CanonicalHeaderKey(f.v)
		switch {
		case f.v == "":
			p.errf(hp, "is empty")
			continue
		case !isToken(f.v):
			p.errf(hp, "%s is not a valid header name", quote(f.v))
			continue
		case reservedHeaders[canon]:
			p.errf(hp, "%s is a standard HTTP header; choose another name", canon)
		}
		if other, dup := seen[canon]; dup {
			p.errf(hp, "%s is also headers.%s", canon, other)
		}
		seen[canon] = f.key
	}
}

var reservedHeaders = map[string]bool{
	"Authorization": true, "Connection": true, "Content-Length": true, "Content-Type": true,
	"Cookie": true, "Forwarded": true, "Host": true, "Location": true, "Set-Cookie": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true,
}

// checkUpstream requires an absolute http(s) URL without credentials,
// query or fragment.
func checkUpstream(p *problems, up, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		p.errf(up, "%s is not a URL like http://127.0.0.1:9000", quote(raw))
	case u.Scheme != "http" && u.Scheme != "https":
		p.errf(up, "scheme %s is not http or https", quote(u.Scheme))
	case u.User != nil:
		p.errf(up, "must not carry credentials (user:password@)")
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?"):
		p.errf(up, "must not have a query or fragment")
	}
}

// checkPrefix requires a URL path prefix: starting with "/", no query,
// fragment, spaces or control characters, and canonical (no ".", ".." or
// empty segments, no ';'), since requests are judged on their canonical
// path (secure.CanonicalPath) and another spelling would never match. It
// reports whether v is sound.
func checkPrefix(p *problems, pp, v string) bool {
	if !strings.HasPrefix(v, "/") {
		p.errf(pp, "%s must start with \"/\"", quote(v))
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c == 0x7f || c == '?' || c == '#' {
			p.errf(pp, "%s must not contain '?', '#', spaces or control characters", quote(v))
			return false
		}
	}
	if secure.Canonical(v) != v || strings.Contains(v, "\\") {
		p.errf(pp, "%s is not a canonical path (no \".\", \"..\" or empty segments, no ';' or '\\'): requests are judged on canonical paths, so it would never match", quote(v))
		return false
	}
	return true
}

// checkHost returns what is wrong with a host name ("" if nothing).
func checkHost(h string) string {
	if h == "" {
		return "is empty"
	}
	if strings.HasPrefix(h, "*") {
		return "is a wildcard; list each host name"
	}
	if strings.Contains(h, ":") {
		if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			return ""
		}
		return "must not have a port or scheme"
	}
	if len(h) > 253 {
		return "is longer than 253 characters"
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "is not a valid host name"
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "is not a valid host name"
			}
		}
	}
	return ""
}

// checkCookieName returns what is wrong with a cookie name ("" if nothing).
func checkCookieName(n string) string {
	if n == "" {
		return "cookie name is empty"
	}
	if !isToken(n) {
		return fmt.Sprintf("%s is not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~ only)", quote(n))
	}
	return ""
}

// isToken reports whether s is an RFC 9110 token (header and cookie names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// checkEnum reports a value outside choices (possible in configs built in
// code; YAML values are checked while decoding).
func checkEnum[T ~string](p *problems, pp string, v T, choices ...T) bool {
	var probe T
	if err := oneOf(&probe, []byte(v), choices...); err != nil {
		p.errf(pp, "%v", err)
		return false
	}
	return true
}

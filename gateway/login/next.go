package login

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SafeNext returns next if it is a same-site relative path, else "/".
// Refused: absolute and scheme-relative URLs (//evil, /\evil), anything
// with a backslash, control characters or whitespace (browsers drop tabs
// and newlines: /%09/evil becomes //evil), and encoded forms of those.
func SafeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return "/"
	}
	dec, err := url.PathUnescape(next)
	if err != nil {
		return "/"
	}
	for _, v := range []string{next, dec} {
		if strings.HasPrefix(v, "//") || strings.HasPrefix(v, "/\\") || strings.ContainsRune(v, '\\') {
			return "/"
		}
		for _, r := range v {
			if r < 0x20 || r == 0x7f || r == ' ' {
				return "/"
			}
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// RetryAfter is the Retry-After value for a wait: whole seconds, rounded
// up past the wait so that a client retrying on time is let in.
func RetryAfter(wait time.Duration) string {
	return strconv.Itoa(int(wait/time.Second) + 1)
}

package wire

import (
	"iter"
	"strings"
)

// HTTPDPairs reads a mod_session table exactly as httpd 2.4 does
// (session_identity_decode), for data Apache wrote: pairs split on runs of
// '&', key and value on runs of '=', then ap_unescape_urlencoded ('+' is a
// space, %xx a byte). A pair with a bad escape or a NUL is skipped. It
// yields each pair in order; an empty value means the key is deleted.
// Apache's "expiry" key is yielded like any other: it is the caller's.
func HTTPDPairs(s string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for pair := range strings.SplitSeq(s, "&") {
			fields := strings.FieldsFunc(pair, func(r rune) bool { return r == '=' })
			if len(fields) == 0 {
				continue
			}
			rawK, rawV := fields[0], ""
			if len(fields) > 1 {
				rawV = fields[1]
			}
			k, ok := unescape(rawK, false)
			if !ok {
				continue
			}
			v := ""
			if rawV != "" {
				if v, ok = unescape(rawV, false); !ok {
					continue
				}
			}
			if !yield(k, v) {
				return
			}
		}
	}
}

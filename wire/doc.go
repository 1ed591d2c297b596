// Package wire is the protocol between the sessiond gateway and the
// backends behind it: the header names, the urlencoded form of session
// data and of a backend's changes, and the actions a backend may ask for.
// It is what a backend written in Go needs, and nothing else: it imports
// the standard library only.
//
// On every forwarded request the gateway sends
//
//	X-Session: cart=1%2c3          the session data (HeaderSession), see DecodeValues
//	X-Session-User: alice          the signed-in user, if any (HeaderUser)
//	X-Session-Ref: 7f3a…           a stable per-session reference, never an ID (HeaderRef)
//	X-Session-Secure: 0|1          whether the client came over HTTPS (HeaderSecure)
//	X-Session-Csrf: <token>        a fresh masked CSRF token (HeaderCSRF), to send in
//	X-Session-Csrf-Field: name     this form field (HeaderCSRFField)
//	X-Session-Info: k=v&…          what the gateway did, when the site inspects (HeaderInfo), see Info
//	X-Session-Email: a@example.com an OpenID user's email (HeaderEmail)
//	X-Session-Groups: ops,dev      an OpenID user's groups, comma separated (HeaderGroups)
//
// and a backend answers, in its response headers (which the gateway
// applies and strips before the client sees the response),
//
//	X-Replace-Session: k=v&gone=   keys to set and, with an empty value, to delete (HeaderReplace), see Changes
//	X-Session-Action: ...          login user=ID | logout | regenerate | require-secure (HeaderAction), see ParseActions
//
// The header names are the defaults; a site may rename them (Headers).
//
// # The urlencoded form
//
// Session data travels in mod_session's form,
// application/x-www-form-urlencoded: "k=v&k2=v2". EncodeValues escapes every byte other than ASCII
// letters, digits and ".-*_" as lowercase %xx and a space as '+', exactly as
// Apache's ap_escape_urlencoded does, so CGI scripts written for
// HTTP_SESSION keep working. On decode, "k=" or a bare "k" deletes k, and
// a malformed pair is skipped and reported, never a crash (Apache's
// CVE-2021-26690/26691 came from this parser). HTTPDPairs reads the same
// form exactly as httpd 2.4 does, for tables Apache wrote (a mod_session
// cookie being migrated).
package wire

package wire

// The default header names of the protocol (a site may rename each one).
const (
	// Request headers: the gateway sets them on every forwarded request
	// and drops any copy a client sent.
	HeaderSession   = "X-Session"            // the session data, see DecodeValues
	HeaderUser      = "X-Session-User"       // the signed-in user, if any
	HeaderRef       = "X-Session-Ref"        // a stable per-record reference (never the ID)
	HeaderSecure    = "X-Session-Secure"     // "1" over HTTPS, else "0"
	HeaderCSRF      = "X-Session-Csrf"       // a fresh masked CSRF token
	HeaderCSRFField = "X-Session-Csrf-Field" // the form field to carry it in
	HeaderInfo      = "X-Session-Info"       // what the gateway did (site setting inspect), see Info

	// Response headers: a backend sends them to the gateway, which applies
	// and strips them.
	HeaderReplace = "X-Replace-Session" // session changes, see Changes
	HeaderAction  = "X-Session-Action"  // see ParseActions
)

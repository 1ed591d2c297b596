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
	HeaderEmail     = "X-Session-Email"      // an OpenID user's email, if the provider gave one
	HeaderGroups    = "X-Session-Groups"     // an OpenID user's groups, comma separated

	// Response headers: a backend sends them to the gateway, which applies
	// and strips them.
	HeaderReplace = "X-Replace-Session" // session changes, see Changes
	HeaderAction  = "X-Session-Action"  // see ParseActions
)

// Headers names the protocol's headers for one site, where a gateway
// renames them. An empty name means the default above. The yaml names are
// the keys of a sessiond site's headers block; CSRF, CSRFField and Info
// keep their defaults there.
type Headers struct {
	Session string `yaml:"session"` // request: the session data (HeaderSession)
	User    string `yaml:"user"`    // request: the signed-in user (HeaderUser)
	Ref     string `yaml:"ref"`     // request: the record's reference (HeaderRef)
	Secure  string `yaml:"secure"`  // request: "1" over HTTPS, else "0" (HeaderSecure)
	Replace string `yaml:"replace"` // response: session changes (HeaderReplace)
	Action  string `yaml:"action"`  // response: actions (HeaderAction)
	Email   string `yaml:"email"`   // request: an OpenID user's email (HeaderEmail)
	Groups  string `yaml:"groups"`  // request: an OpenID user's groups, comma separated (HeaderGroups)

	CSRF      string // request: a fresh masked CSRF token (HeaderCSRF)
	CSRFField string // request: its form field name (HeaderCSRFField)
	Info      string // request: what the gateway did (HeaderInfo)
}

// WithDefaults returns h with every empty name set to its default.
func (h Headers) WithDefaults() Headers {
	for _, f := range []struct {
		name *string
		def  string
	}{
		{&h.Session, HeaderSession}, {&h.User, HeaderUser}, {&h.Ref, HeaderRef}, {&h.Secure, HeaderSecure},
		{&h.CSRF, HeaderCSRF}, {&h.CSRFField, HeaderCSRFField}, {&h.Info, HeaderInfo},
		{&h.Email, HeaderEmail}, {&h.Groups, HeaderGroups},
		{&h.Replace, HeaderReplace}, {&h.Action, HeaderAction},
	} {
		if *f.name == "" {
			*f.name = f.def
		}
	}
	return h
}

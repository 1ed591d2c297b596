// Package secure decides which requests belong on HTTPS and which on HTTP,
// and redirects between them, so that pages that need HTTPS never load
// over plain HTTP.
//
// Rules are evaluated in order; the first that matches decides. Kinds:
// overall (Never / Always / ByRules); by path (prefix or glob); by user
// state (anonymous / authenticated); by content (an HTML response served
// over HTTP that contains a configured form — a password field, a form id —
// is replaced by a redirect before a byte of it leaves); and a custom Hook.
// GET and HEAD get 302 (or 301), other methods 307, except that an unsafe
// request over plain HTTP to a route marked Credentials is refused with a
// 403 page that links to the HTTPS page: it is never processed, and never
// 307-redirected (the browser would send the credentials again).
//
// Targets are built from configured origins, never from the Host header.
//
// Place the Handler inside the session middleware (so rules can see the
// session's state): manager.Handler(rules.Handler(app)).
package secure

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/internal/redirect"
	"github.com/sessiond/sessiond/session"
)

// Overall is the site-wide policy.
type Overall int

const (
	// ByRules (the default) applies Rules; no match means "stay".
	ByRules Overall = iota
	// Always sends every request to HTTPS.
	Always
	// Never redirects at all.
	Never
)

// Scheme is where a request belongs.
type Scheme int

const (
	Stay Scheme = iota // no redirect
	HTTPS
	HTTP
)

// State selects rules by the session's user state.
type State int

const (
	AnyState State = iota
	Anonymous
	Authenticated
)

// Rule sends matching requests to To.
type Rule struct {
	// Path is a path prefix, matched by Config.Paths: "/checkout" matches
	// "/checkout", "/checkout/pay", "/checkout.json" and "/CHECKOUT", not
	// "/checkouts". Glob is a path.Match pattern on the whole path. Empty
	// both: every path.
	Path string
	Glob string
	// State restricts the rule to anonymous or authenticated sessions.
	State State
	// Form makes it a content rule: over HTTP, an HTML response with an
	// element matching this selector (ParseSelector's grammar, e.g.
	// "input[type=password]" or "form#login") is replaced by a redirect to
	// HTTPS.
	Form string
	// Credentials marks a route that receives credentials: an unsafe
	// request to it over plain HTTP is refused with 403.
	Credentials bool
	To          Scheme
}

// Hook is a custom decision (the seed's "API hooks"): return Stay to let
// the rules decide.
type Hook interface {
	Decide(r *http.Request, s *session.Session) Scheme
}

// HSTS configures Strict-Transport-Security on HTTPS responses.
type HSTS struct {
	MaxAge            time.Duration
	IncludeSubdomains bool
}

// Config configures Rules.
type Config struct {
	Overall Overall
	Rules   []Rule
	// Paths is how rules' Path and Glob match: in any case unless
	// Paths.ExactCase (see PathMatcher).
	Paths PathMatcher
	Hook  Hook
	// HTTPSOrigin and HTTPOrigin ("https://shop.example:8443") build
	// redirect targets. HTTPSOrigin is required unless Overall is Never.
	HTTPSOrigin string
	HTTPOrigin  string
	// Permanent uses 301 instead of 302 for GET/HEAD.
	Permanent bool
	HSTS      HSTS
	// IsSecure tells whether a request came over HTTPS. Default: r.TLS != nil
	// (pass Manager.IsSecure behind a trusted proxy).
	IsSecure func(r *http.Request) bool
	// MaxBuffer bounds the HTML buffered for content rules (default 4 MiB);
	// a larger page is redirected to HTTPS rather than checked in part.
	// Only text/html (and XHTML) responses are held; everything else
	// streams.
	MaxBuffer int
}

// Rules is a compiled Config. It is safe for concurrent use.
type Rules struct {
	cfg   Config
	https *url.URL
	http  *url.URL
	forms []*Selector // per rule index; nil when not a content rule
	hsts  string      // the Strict-Transport-Security value, "" for none
}

// HSTSValue is the Strict-Transport-Security value Handler sets on HTTPS
// responses ("" for none).
func (r *Rules) HSTSValue() string { return r.hsts }

// New validates cfg and compiles its rules.
func New(cfg Config) (*Rules, error) {
	r := &Rules{cfg: cfg}
	var errs []error
	parse := func(field, s, scheme string) *url.URL {
		if s == "" {
			return nil
		}
		u, err := url.Parse(s)
		if err != nil || u.Scheme != scheme || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("secure: %s %q must be %s://host[:port]", field, s, scheme))
			return nil
		}
		return u
	}
	r.https = parse("HTTPSOrigin", cfg.HTTPSOrigin, "https")
	r.http = parse("HTTPOrigin", cfg.HTTPOrigin, "http")
	if cfg.Overall != Never && r.https == nil && len(errs) == 0 {
		errs = append(errs, errors.New("secure: HTTPSOrigin is required unless Overall is Never"))
	}
	r.forms = make([]*Selector, len(cfg.Rules))
	for i, rule := range cfg.Rules {
		if rule.Path != "" && !strings.HasPrefix(rule.Path, "/") {
			errs = append(errs, fmt.Errorf("secure: Rules[%d].Path %q must start with /", i, rule.Path))
		}
		if rule.Glob != "" {
			if _, err := path.Match(rule.Glob, "/"); err != nil {
				errs = append(errs, fmt.Errorf("secure: Rules[%d].Glob %q: %w", i, rule.Glob, err))
			}
		}
		if rule.To == HTTP && r.http == nil {
			errs = append(errs, fmt.Errorf("secure: Rules[%d] sends to HTTP but HTTPOrigin is empty", i))
		}
		if rule.Form != "" {
			sel, err := ParseSelector(rule.Form)
			if err != nil {
				errs = append(errs, fmt.Errorf("secure: Rules[%d].Form %q: %w", i, rule.Form, err))
			}
			r.forms[i] = sel
			if rule.To != HTTPS {
				errs = append(errs, fmt.Errorf("secure: Rules[%d]: a content rule can only send to HTTPS", i))
			}
		}
	}
	if r.cfg.IsSecure == nil {
		r.cfg.IsSecure = func(r *http.Request) bool { return r.TLS != nil }
	}
	if cfg.HSTS.MaxAge > 0 {
		r.hsts = "max-age=" + strconv.Itoa(int(cfg.HSTS.MaxAge/time.Second))
		if cfg.HSTS.IncludeSubdomains {
			r.hsts += "; includeSubDomains"
		}
	}
	if r.cfg.MaxBuffer <= 0 {
		r.cfg.MaxBuffer = 4 << 20
	}
	return r, errors.Join(errs...)
}

// SecureURL is the HTTPS URL for r (for Config.HTTPSURL of the session
// manager's StaySecure and for links).
func (r *Rules) SecureURL(req *http.Request) string {
	if r.https == nil {
		return ""
	}
	return r.https.Scheme + "://" + r.https.Host + req.URL.RequestURI()
}

func (r *Rules) target(req *http.Request, to Scheme) string {
	u := r.https
	if to == HTTP {
		u = r.http
	}
	if u == nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + req.URL.RequestURI()
}

// matchesPath applies the rule's path or glob.
func (rule *Rule) matchesPath(m PathMatcher, req *http.Request) bool {
	p := req.URL.Path
	if rule.Path != "" && !m.Match(p, rule.Path) {
		return false
	}
	if rule.Glob != "" && !m.MatchGlob(p, rule.Glob) {
		return false
	}
	return true
}

func (rule *Rule) matches(m PathMatcher, req *http.Request, s *session.Session) bool {
	if !rule.matchesPath(m, req) {
		return false
	}
	switch rule.State {
	case Anonymous:
		return s == nil || !s.Authenticated()
	case Authenticated:
		return s != nil && s.Authenticated()
	}
	return true
}

// Decide returns where req belongs, the rule that decided (-1 for none),
// and whether content rules still apply to the response.
func (r *Rules) Decide(req *http.Request) (to Scheme, rule int) {
	s := session.FromContext(req.Context())
	switch r.cfg.Overall {
	case Never:
		return Stay, -1
	case Always:
		// Everything goes to HTTPS; a credentials route is still named, so
		// that an unsafe request to it over plain HTTP is refused.
		for i, rule := range r.cfg.Rules {
			if rule.Credentials && rule.Form == "" && rule.matches(r.cfg.Paths, req, s) {
				return HTTPS, i
			}
		}
		return HTTPS, -1
	}
	if r.cfg.Hook != nil {
		if to := r.cfg.Hook.Decide(req, s); to != Stay {
			return to, -1
		}
	}
	for i := range r.cfg.Rules {
		rule := &r.cfg.Rules[i]
		if rule.Form != "" {
			continue // decided on the response
		}
		if rule.matches(r.cfg.Paths, req, s) {
			return rule.To, i
		}
	}
	return Stay, -1
}

// Handler applies the rules around next.
func (r *Rules) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if Canonicalize(w, req) {
			return
		}
		secure := r.cfg.IsSecure(req)
		if secure && r.hsts != "" {
			w.Header().Set("Strict-Transport-Security", r.hsts)
		}
		to, idx := r.Decide(req)
		if (to == HTTPS && !secure) || (to == HTTP && secure) {
			credentials := idx >= 0 && r.cfg.Rules[idx].Credentials
			if !secure && credentials && !safeMethod(req.Method) {
				r.refuse(w, req)
				return
			}
			r.redirect(w, req, to)
			return
		}
		if secure || !r.contentRulesFor(req) {
			next.ServeHTTP(w, req)
			return
		}
		// Over HTTP with content rules: an HTML response is held until it
		// is known not to contain a protected form; anything else (event
		// streams, downloads, WebSocket upgrades) streams through.
		cw := &contentWriter{w: w, header: http.Header{}, limit: r.cfg.MaxBuffer}
		next.ServeHTTP(cw, req)
		if cw.mode == undecided && cw.body.Len() > 0 {
			cw.sniff() // a short body without a Content-Type
		}
		if cw.mode == streaming || cw.mode == hijacked {
			return
		}
		if cw.over || r.containsForm(req, cw) {
			if !safeMethod(req.Method) && cw.over {
				r.refuse(w, req)
				return
			}
			r.redirect(w, req, HTTPS)
			return
		}
		cw.flush()
	})
}

// contentRulesFor reports whether a content rule's path could match req
// (its user state is judged on the response).
func (r *Rules) contentRulesFor(req *http.Request) bool {
	for i, sel := range r.forms {
		if sel != nil && r.cfg.Rules[i].matchesPath(r.cfg.Paths, req) {
			return true
		}
	}
	return false
}

func (r *Rules) containsForm(req *http.Request, cw *contentWriter) bool {
	s := session.FromContext(req.Context())
	for i, sel := range r.forms {
		if sel == nil {
			continue
		}
		rule := r.cfg.Rules[i]
		rule.Form = ""
		if rule.matches(r.cfg.Paths, req, s) && containsMatch(cw.body.Bytes(), sel) {
			return true
		}
	}
	return false
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (r *Rules) redirect(w http.ResponseWriter, req *http.Request, to Scheme) {
	target := r.target(req, to)
	if target == "" {
		http.Error(w, "misconfigured redirect", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, req, target, redirect.Status(req.Method, r.cfg.Permanent))
}

var refusePage = template.Must(template.New("refuse").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Use the secure page</title></head>
<body><p><a href="/" id="home">← Back to the site</a></p><h1>This form must be sent over HTTPS</h1>
<p>For your safety, what you submitted over an unencrypted connection was not processed.</p>
<p><a href="{{.}}">Continue on the secure page</a></p></body></html>
`))

// refuse answers an unsafe request carrying credentials over plain HTTP.
func (r *Rules) refuse(w http.ResponseWriter, req *http.Request) {
	target := r.target(req, HTTPS)
	if u, err := url.Parse(target); err == nil {
		u.RawQuery = "" // link to the page, not to a replay of the request
		target = u.String()
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	refusePage.Execute(w, target)
}

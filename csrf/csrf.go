package csrf

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"github.com/sessiond/sessiond/session"
)

// Errors returned by [Protection.Check], each wrapped once with the detail.
// Test them with errors.Is.
var (
	// ErrCrossOrigin: layer 1 refused the request: Sec-Fetch-Site or
	// Origin says another origin sent it, and that origin is not trusted.
	ErrCrossOrigin = errors.New("csrf: cross-origin request refused")
	// ErrNoSession: an unsafe request has no session to check a token
	// against. The check fails closed.
	ErrNoSession = errors.New("csrf: no session to check the token against")
	// ErrTokenMissing: an unsafe request carries no token.
	ErrTokenMissing = errors.New("csrf: token missing")
	// ErrTokenInvalid: the token is malformed, tampered with, from another
	// session, or the session has no secret yet.
	ErrTokenInvalid = errors.New("csrf: token invalid")
)

// Store is the part of a session the token layer uses: a string table.
// *session.Session implements it. Set must be visible to a following Get in
// the same request and must be saved with the session.
type Store interface {
	Get(key string) string
	Set(key, value string)
}

// Defaults for the zero values of the Config fields.
const (
	DefaultSessionKey = "secure.csrf"
	DefaultFieldName  = "csrf_token"
	DefaultHeaderName = "X-CSRF-Token"
)

// Config configures a [Protection]. Every field is optional.
type Config struct {
	// TrustedOrigins are origins ("scheme://host[:port]", exactly as the
	// browser sends them in Origin) whose unsafe requests pass layer 1.
	// See the package documentation for mixed HTTP/HTTPS sites.
	TrustedOrigins []string

	// InsecureBypassPatterns are http.ServeMux patterns ("POST /hooks/pay")
	// exempt from both layers: webhooks and other endpoints that
	// authenticate their caller another way. Only exact pattern matches
	// are exempt, never a path ServeMux would redirect.
	InsecureBypassPatterns []string

	// Session returns the session of r, or nil if r has none. nil here
	// (the field) turns the token layer off and leaves only layer 1; a
	// function that returns nil makes every unsafe request fail with
	// ErrNoSession. It must be safe for concurrent use.
	Session func(r *http.Request) Store

	// SessionKey is the session key of the per-session secret. Default
	// "secure.csrf": in a mixed-mode session it sits in the secure
	// partition, invisible over HTTP.
	SessionKey string

	// FieldName is the form field that carries the token; default
	// "csrf_token". Only the request body is read, never the URL query.
	FieldName string

	// HeaderName is the request header that carries the token, checked
	// before the form; default "X-CSRF-Token".
	HeaderName string

	// Auditor, if set, receives a "csrf.refused" event for every refusal
	// with the reason, method and path (never the token).
	Auditor session.Auditor

	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed, as in session.Config: the audit
	// records the client's address (session.ClientIP) and CheckWebSocket
	// knows a request that came over HTTPS (session.IsSecureRequest).
	// Empty: none are; the connection alone is judged.
	TrustedProxies []netip.Prefix

	// DenyHandler, if set, answers refused requests instead of the
	// built-in 403 page. [Failure] tells it why. It should answer 403.
	DenyHandler http.Handler
}

// Protection applies both layers to requests. Build it with [New]; the zero
// value is also valid and applies layer 1 only, with no trusted origins,
// like a zero [http.CrossOriginProtection]. A Protection must not be copied
// after first use. It is safe for concurrent use.
type Protection struct {
	origins http.CrossOriginProtection // layer 1; zero value valid
	trusted originSet                  // its trusted origins, for CheckWebSocket
	bypass  *http.ServeMux             // nil: no bypass; read-only after New

	session func(*http.Request) Store // nil: token layer off (zero value)
	key     string
	field   string
	header  string
	auditor session.Auditor
	deny    http.Handler
	proxies []netip.Prefix // Config.TrustedProxies; read-only after New
}

// New validates cfg and returns a Protection. An invalid trusted origin or
// bypass pattern is an error naming it.
func New(cfg Config) (*Protection, error) {
	p := &Protection{
		session: cfg.Session,
		key:     cfg.SessionKey,
		field:   cfg.FieldName,
		header:  cfg.HeaderName,
		auditor: cfg.Auditor,
		deny:    cfg.DenyHandler,
		proxies: slices.Clone(cfg.TrustedProxies),
	}
	if p.key == "" {
		p.key = DefaultSessionKey
	}
	if p.field == "" {
		p.field = DefaultFieldName
	}
	if p.header == "" {
		p.header = DefaultHeaderName
	}
	for _, o := range cfg.TrustedOrigins {
		if err := p.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	for _, pat := range cfg.InsecureBypassPatterns {
		if err := p.addBypass(pat); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Check reports whether r may proceed: nil, or an error wrapping one of
// ErrCrossOrigin, ErrNoSession, ErrTokenMissing, ErrTokenInvalid. It writes
// nothing and changes no session. When the token is not in the header it
// parses a form body (r.PostForm, or r.MultipartForm for uploads), which
// the handler then finds already parsed; clients that stream bodies should
// send the header. Safe methods (GET, HEAD, OPTIONS) always pass.
func (p *Protection) Check(r *http.Request) error {
	if p.bypassed(r) {
		return nil
	}
	if err := p.checkOrigin(r); err != nil {
		return err
	}
	if p.session == nil || safeMethod(r.Method) {
		return nil
	}
	return p.checkToken(r)
}

// Handler returns a handler that runs [Protection.Check] before h. A refused
// request gets the DenyHandler, or a 403 HTML page that echoes nothing from
// the request, and is audited; h never sees it. Requests that pass reach h
// with the Protection in their context, for [Token] and [TemplateField].
func (p *Protection) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
		if err := p.Check(r); err != nil {
			p.refuse(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

type failureKey struct{}

// Failure returns the error for which Handler refused r, inside a
// DenyHandler; nil elsewhere.
func Failure(r *http.Request) error {
	err, _ := r.Context().Value(failureKey{}).(error)
	return err
}

func fromContext(r *http.Request) *Protection {
	p, _ := r.Context().Value(ctxKey{}).(*Protection)
	return p
}

func (p *Protection) refuse(w http.ResponseWriter, r *http.Request, err error) {
	p.audit(r, err)
	if p.deny != nil {
		p.deny.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), failureKey{}, err)))
		return
	}
	writeDenyPage(w, err)
}

// reason is the short, fixed code of a refusal for logs and the audit.
func reason(err error) string {
	switch {
	case errors.Is(err, ErrCrossOrigin):
		return "cross_origin"
	case errors.Is(err, ErrNoSession):
		return "no_session"
	case errors.Is(err, ErrTokenMissing):
		return "token_missing"
	case errors.Is(err, ErrTokenInvalid):
		return "token_invalid"
	}
	return "other"
}

func (p *Protection) audit(r *http.Request, err error) {
	if p.auditor == nil {
		return
	}
	e := session.Event{
		Time:      time.Now(),
		Type:      "csrf.refused",
		UserAgent: r.UserAgent(),
		Attrs: []slog.Attr{
			slog.String("reason", reason(err)),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
		},
	}
	if ip := session.ClientIP(r, p.proxies); ip.IsValid() {
		e.IP = ip.String()
	}
	if p.session != nil {
		if u, ok := p.store(r).(interface{ User() string }); ok {
			e.User = u.User()
		}
	}
	p.auditor.Audit(r.Context(), e)
}

// store returns the session of r, or nil — also when Session returned a
// typed nil pointer such as a nil *session.Session in a Store interface.
func (p *Protection) store(r *http.Request) Store {
	if p.session == nil {
		return nil
	}
	s := p.session(r)
	if s == nil {
		return nil
	}
	if v := reflect.ValueOf(s); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	return s
}

func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

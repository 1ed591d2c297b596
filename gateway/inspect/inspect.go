// Package inspect is the gateway's request inspector (a site's inspect
// key): it tells a backend, in the X-Session-Info header, what the gateway
// did with the session and why the client was just redirected.
package inspect

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/wire"
)

// Inspection (the site's inspect key) lets a backend show what the gateway
// did with the session: which session cookies the request carried, which
// partition the backend sees, the record's recent session events, and why
// the client was just redirected. It is made for demos and debugging; the
// header carries no ID and no data the backend could not see anyway.
//
// The gateway keeps the event log in the record under eventsKey (insecure
// partition, never forwarded as data, never settable by a backend) and
// carries a redirect's reason to the next request in the NoteParam query
// parameter of the redirect's target on this site — never a cookie: a
// redirect from plain HTTP to HTTPS sets none. The gateway strips the
// parameter before the backend sees the URL and explains only the values
// explain knows (a fixed set of reasons and this site's rule numbers), so a
// crafted link can show one of the gateway's own sentences at most.
const (
	eventsKey = "sessiond.events"
	maxEvents = 8
	// NoteParam is the query parameter that carries a redirect's reason.
	NoteParam = "sessiond_note"
	// SignedOutQuery ends the URL the gateway's sign-out redirects to.
	SignedOutQuery = "signed-out"
)

// Config is what the inspector needs from its site.
type Config struct {
	// HTTPSOrigin and HTTPOrigin are the site's origins ("" if none).
	HTTPSOrigin, HTTPOrigin string
	// Rules are the site's redirect rules; RuleList the same as
	// configured, to explain them.
	Rules    *secure.Rules
	RuleList []secure.Rule
	// IsSecure reports whether a request came over HTTPS.
	IsSecure func(*http.Request) bool
	// Manager is the site's session manager; nil when sessions are off.
	Manager *session.Manager
}

// Inspector inspects one site's requests. A nil *Inspector (inspection
// off) does nothing.
type Inspector struct {
	c Config
}

// New returns the inspector of a site.
func New(c Config) *Inspector { return &Inspector{c: c} }

// note is one request's inspection state.
type note struct {
	in      string   // the note that arrived (NoteParam, validated)
	why     string   // a reason set by the gateway's own code: auth, backend, logout
	cookies []string // session cookies the request carried, by name
}

type noteKey struct{}

func noteFrom(ctx context.Context) *note {
	n, _ := ctx.Value(noteKey{}).(*note)
	return n
}

// SetWhy records why the gateway answered as it did (for the next request).
func SetWhy(r *http.Request, why string) {
	if n := noteFrom(r.Context()); n != nil {
		n.why = why
	}
}

// Start starts a request's inspection: it reads (and hides from the
// backend) the note parameter and records the session cookies present.
func (s *Inspector) Start(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	n := &note{}
	if v, rest, ok := takeNote(r.URL.RawQuery); ok {
		r = r.Clone(r.Context())
		r.URL.RawQuery = rest
		r.RequestURI = r.URL.RequestURI()
		if s.explain(v) != "" {
			n.in = v
		}
	}
	if r.URL.RawQuery == SignedOutQuery && r.Method == http.MethodGet {
		n.in = "logout"
	}
	if s.c.Manager != nil { // the session cookies only (not, say, the device cookie)
		ck := s.c.Manager.Config().Cookie
		for _, name := range []string{ck.Name, ck.SecureName} {
			if name != "" && len(r.CookiesNamed(name)) > 0 {
				n.cookies = append(n.cookies, name)
			}
		}
	}
	r = r.WithContext(context.WithValue(r.Context(), noteKey{}, n))
	return &noteWriter{ResponseWriter: w, s: s, r: r, n: n}, r
}

// takeNote removes every NoteParam from a raw query: the first one's value
// (as sent: notes are plain words) and the query without them; ok reports
// whether there was one.
func takeNote(raw string) (v, rest string, ok bool) {
	if !strings.Contains(raw, NoteParam) {
		return "", raw, false
	}
	var kept []string
	for part := range strings.SplitSeq(raw, "&") {
		k, val, _ := strings.Cut(part, "=")
		if k != NoteParam {
			kept = append(kept, part)
			continue
		}
		if !ok {
			v, ok = val, true
		}
	}
	return v, strings.Join(kept, "&"), ok
}

// withNote adds the note to a redirect target on this site (a path, or
// this site's HTTP or HTTPS origin); elsewhere it returns "".
func (s *Inspector) withNote(loc, v string) string {
	onSite := (s.c.HTTPSOrigin != "" && strings.HasPrefix(loc, s.c.HTTPSOrigin+"/")) ||
		(s.c.HTTPOrigin != "" && strings.HasPrefix(loc, s.c.HTTPOrigin+"/")) ||
		(strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.HasPrefix(loc, "/\\"))
	if !onSite {
		return ""
	}
	loc, frag, hasFrag := strings.Cut(loc, "#")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	loc += sep + NoteParam + "=" + v
	if hasFrag {
		loc += "#" + frag
	}
	return loc
}

// noteWriter adds the note to a redirect's target when the response starts.
type noteWriter struct {
	http.ResponseWriter
	s    *Inspector
	r    *http.Request
	n    *note
	done bool
}

func (w *noteWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *noteWriter) WriteHeader(code int) {
	if !w.done && code >= 200 {
		w.done = true
		w.s.noteResponse(w.Header(), w.r, w.n, code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noteWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *noteWriter) Flush() {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// noteResponse decides the note for the next request — why a plain-HTTP
// request was sent to HTTPS, or that the user signed out — and carries it
// in the redirect's target.
func (s *Inspector) noteResponse(h http.Header, r *http.Request, n *note, code int) {
	out := ""
	switch {
	case n.why == "logout" && code >= 300 && code < 400 && h.Get("Location") != "/?"+SignedOutQuery:
		out = "logout" // a backend's logout action: its redirect goes anywhere
	case n.why == "auth" && code >= 300 && code < 400:
		out = "auth"
	case code >= 300 && code < 400 && !s.c.IsSecure(r) && strings.HasPrefix(h.Get("Location"), s.c.HTTPSOrigin+"/"):
		out = n.why
		if out == "" {
			out = s.redirectReason(r)
		}
	}
	if out == "" {
		return
	}
	if loc := s.withNote(h.Get("Location"), out); loc != "" {
		h.Set("Location", loc)
	}
}

// redirectReason names the rule that sent r to HTTPS.
func (s *Inspector) redirectReason(r *http.Request) string {
	if s.c.Rules != nil {
		if to, idx := s.c.Rules.Decide(r); to == secure.HTTPS {
			if idx >= 0 {
				return "r" + strconv.Itoa(idx)
			}
			return "always"
		}
	}
	return "form"
}

// explain turns a note into one plain sentence; unknown notes (a client
// can send anything) explain nothing.
func (s *Inspector) explain(code string) string {
	switch code {
	case "":
		return ""
	case "always":
		return "This site is HTTPS-only: the gateway sends every plain-HTTP request to HTTPS."
	case "auth":
		return "The page you asked for needs a signed-in user, so the gateway sent you to its sign-in page (over HTTPS)."
	case "backend":
		return "The site asked the gateway for HTTPS on this page (X-Session-Action: require-secure)."
	case "form":
		for _, rule := range s.c.RuleList {
			if rule.Form != "" && rule.To == secure.HTTPS {
				return fmt.Sprintf("The page contains a form matching %q, so the gateway's content rule sent it to HTTPS before it was shown.", rule.Form)
			}
		}
		return ""
	case "logout":
		return "You signed out: the gateway destroyed the session on the server, so its IDs are dead even if someone copied them."
	}
	if i, err := strconv.Atoi(strings.TrimPrefix(code, "r")); err == nil && code[0] == 'r' && i >= 0 && i < len(s.c.RuleList) {
		return "You were sent to HTTPS because the gateway's rule " + describeRule(s.c.RuleList[i]) + " matched."
	}
	return ""
}

func describeRule(r secure.Rule) string {
	var parts []string
	switch {
	case r.Path != "":
		parts = append(parts, "path "+r.Path)
	case r.Glob != "":
		parts = append(parts, "paths "+r.Glob)
	default:
		parts = append(parts, "every path")
	}
	switch r.State {
	case secure.Anonymous:
		parts = append(parts, "anonymous")
	case secure.Authenticated:
		parts = append(parts, "signed in")
	}
	if r.Credentials {
		parts = append(parts, "credentials")
	}
	to := "HTTPS"
	if r.To == secure.HTTP {
		to = "HTTP"
	}
	return "“" + strings.Join(parts, ", ") + " → " + to + "”"
}

// LogEvent appends session events to the record's short log.
func (s *Inspector) LogEvent(sess *session.Session, kinds ...string) {
	if s == nil || sess == nil || len(kinds) == 0 {
		return
	}
	evs := wire.ParseEvents(sess.Get(eventsKey))
	now := time.Now()
	for _, k := range kinds {
		evs = append(evs, wire.Event{Kind: k, Time: now})
	}
	if len(evs) > maxEvents {
		evs = evs[len(evs)-maxEvents:]
	}
	sess.Set(eventsKey, wire.FormatEvents(evs))
}

// Info is the X-Session-Info value for a forwarded request.
func (s *Inspector) Info(r *http.Request, sess *session.Session, now []string) string {
	n := noteFrom(r.Context())
	in := wire.Info{Transport: "http", HTTPOrigin: s.c.HTTPOrigin, HTTPSOrigin: s.c.HTTPSOrigin}
	if s.c.IsSecure(r) {
		in.Transport = "https"
	}
	if n != nil {
		in.Cookies = n.cookies
		in.Why = s.explain(n.in)
		if n.in == "logout" {
			now = append(now, "logout")
		}
	}
	switch {
	case s.c.Manager == nil || sess == nil:
		in.Sessions = "off"
	default:
		in.Sessions = "on"
		in.Mode = s.c.Manager.Config().Mode.String()
		in.Partition = "all"
		if cfg := s.c.Manager.Config(); cfg.Mode == session.Mixed && !sess.Secure() {
			in.Partition = "insecure"
			if n != nil && slices.Contains(n.cookies, cfg.Cookie.SecureName) {
				// Chromium sends Secure cookies to http://localhost too.
				in.Ignored = cfg.Cookie.SecureName
			}
		}
		in.Events = wire.ParseEvents(sess.Get(eventsKey))
	}
	in.Now = now
	if in.Transport == "http" {
		// Plain HTTP carries what the insecure partition may show: the
		// account's sign-in history stays on HTTPS.
		in.Events = slices.DeleteFunc(in.Events, func(e wire.Event) bool { return accountEvent(e.Kind) })
		in.Now = slices.DeleteFunc(in.Now, accountEvent)
		if n != nil && n.in == "logout" {
			in.Why = ""
		}
	}
	return in.Encode()
}

// accountEvent reports whether an event kind belongs to the account (a
// sign-in or sign-out), not to the session's transport.
func accountEvent(kind string) bool { return kind == "login" || kind == "logout" }

// Why explains the note r arrived with ("" if none or unknown).
func (s *Inspector) Why(r *http.Request) string {
	if n := noteFrom(r.Context()); s != nil && n != nil {
		return s.explain(n.in)
	}
	return ""
}

package shop

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessiond/sessiond/wire"
)

// info is the gateway's X-Session-Info header, decoded for the session
// inspector panel. Every field is display-only: the shop decides nothing
// from it except whether sessions are on.
type info struct {
	Sessions   string   // "on" or "off"
	Mode       string   // "mixed" or "https-only"
	Transport  string   // "http" or "https"
	Cookies    []string // session cookies the request carried, by name
	Ignored    string   // a secure cookie that came over plain HTTP and was not used
	Partition  string   // "insecure" (mixed mode over HTTP) or "all"
	Why        string   // why the gateway just redirected here, one sentence
	HTTPOrigin string   // the site's plain-HTTP origin, for links
	Events     []event  // newest first
}

// ModeText says what kind of session this site has.
func (i *info) ModeText() string {
	switch i.Mode {
	case "mixed":
		return "mixed HTTP/HTTPS: cookie sid over both, __Host-ssid over HTTPS only, one record"
	case "https-only":
		return "HTTPS only: one Secure cookie, nothing over plain HTTP"
	}
	return i.Mode
}

// event is one line of the inspector's event list.
type event struct {
	Kind string // created, step-up, step-down, fork, regenerate, login, logout
	Ago  string // "just now", "2 min ago"
	Now  bool   // it happened on this request
}

var eventText = map[string][2]string{
	"created":    {"Created.", "The first thing was stored, so the gateway created the session and set its cookie (sessions are lazy: browsing alone sets none)."},
	"step-up":    {"Step up.", "First HTTPS request of this session: the gateway issued the secure cookie __Host-ssid and gave sid a new value. The cart came along."},
	"step-down":  {"Step down.", "First plain-HTTP request after HTTPS: sid got a new value, so an ID seen before is not the one on the wire now. The account stays on HTTPS."},
	"fork":       {"Fork.", "An insecure ID arrived over HTTPS for a session that already has a secure ID: this request got a new session with a copy of the cart only, never the account."},
	"regenerate": {"New ID.", "The session ID was regenerated; the data was kept, and the old ID works for a few seconds only."},
	"login":      {"Signed in.", "The gateway regenerated the IDs before setting the user, so an ID known before sign-in never becomes signed in."},
	"logout":     {"Signed out.", "The gateway destroyed the session on the server: its IDs are dead, even if someone copied them."},
}

// Name is the event's short title.
func (e event) Name() string {
	if t, ok := eventText[e.Kind]; ok {
		return t[0]
	}
	return e.Kind + "."
}

// Sentence explains the event in one plain sentence.
func (e event) Sentence() string { return eventText[e.Kind][1] }

// parseInfo decodes X-Session-Info (wire.ParseInfo). Malformed parts are
// skipped: it only feeds the inspector panel.
func parseInfo(raw string, now time.Time) *info {
	wi := wire.ParseInfo(raw)
	in := &info{
		Sessions:   wi.Sessions,
		Mode:       wi.Mode,
		Transport:  wi.Transport,
		Partition:  wi.Partition,
		Why:        wi.Why,
		HTTPOrigin: wi.HTTPOrigin,
		Cookies:    wi.Cookies,
		Ignored:    wi.Ignored,
	}
	if !strings.HasPrefix(in.HTTPOrigin, "http://") {
		in.HTTPOrigin = ""
	}
	current := wi.Now
	for i := len(wi.Events) - 1; i >= 0; i-- {
		kind := wi.Events[i].Kind
		if _, known := eventText[kind]; !known {
			continue
		}
		e := event{Kind: kind, Ago: ago(now.Sub(wi.Events[i].Time))}
		if j := slices.Index(current, kind); j >= 0 {
			e.Now = true
			current = slices.Delete(current, j, j+1) // only the newest of a kind
		}
		in.Events = append(in.Events, e)
	}
	// This request's events that are not in the record's log: a sign-out
	// leaves no record to keep it in.
	for _, kind := range current {
		if _, known := eventText[kind]; known {
			in.Events = append([]event{{Kind: kind, Ago: "just now", Now: true}}, in.Events...)
		}
	}
	return in
}

func ago(d time.Duration) string {
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	}
	return fmt.Sprintf("%d h ago", int(d/time.Hour))
}

// visibleText lists the session data the backend received.
func visibleText(data map[string]string) string {
	if len(data) == 0 {
		return "no data"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(data)) {
		parts = append(parts, k+" = "+data[k])
	}
	return strings.Join(parts, "; ")
}

func serveStyle(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "style.css", time.Time{}, strings.NewReader(styleCSS))
}

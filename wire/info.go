package wire

import (
	"strconv"
	"strings"
	"time"
)

// Info is the X-Session-Info header (HeaderInfo): what the gateway did with
// the session on this request, sent only when the site's inspect setting
// is on. It is for demos and debugging panels: display it, decide nothing
// from it but whether sessions are on. It carries no ID and nothing the
// backend could not see anyway.
type Info struct {
	Sessions    string   // "on", or "off" (no sessions on this path or site)
	Mode        string   // "mixed" or "https-only"
	Transport   string   // "http" or "https"
	Partition   string   // "all", or "insecure" (mixed mode over HTTP: user and secure.* hidden)
	Ignored     string   // a secure cookie that came over plain HTTP and was not used
	Why         string   // why the gateway just redirected here, one sentence
	HTTPOrigin  string   // the site's plain-HTTP origin ("http://shop.example:8080")
	HTTPSOrigin string   // the site's HTTPS origin
	Cookies     []string // the session cookies the request carried, by name (never values)
	Events      []Event  // the record's recent session events, oldest first
	Now         []string // the kinds of event that happened on this request
}

// Event is one entry of a record's event log: created, step-up,
// step-down, fork, regenerate, login or logout, and when (to the second).
type Event struct {
	Kind string
	Time time.Time
}

// Encode writes i in the urlencoded form, leaving out empty fields.
func (i Info) Encode() string {
	v := map[string]string{
		"sessions": i.Sessions, "mode": i.Mode, "transport": i.Transport, "partition": i.Partition,
		"ignored": i.Ignored, "why": i.Why, "http": i.HTTPOrigin, "https": i.HTTPSOrigin,
		"cookies": strings.Join(i.Cookies, " "), "events": FormatEvents(i.Events), "now": strings.Join(i.Now, ","),
	}
	for k, val := range v {
		if val == "" {
			delete(v, k)
		}
	}
	return EncodeValues(v)
}

// ParseInfo reads an X-Session-Info value. Malformed parts are skipped: it
// only feeds a display.
func ParseInfo(s string) Info {
	v, _ := DecodeValues(s)
	i := Info{
		Sessions: v["sessions"], Mode: v["mode"], Transport: v["transport"], Partition: v["partition"],
		Ignored: v["ignored"], Why: v["why"], HTTPOrigin: v["http"], HTTPSOrigin: v["https"],
		Events: ParseEvents(v["events"]),
	}
	if c := strings.Fields(v["cookies"]); len(c) > 0 {
		i.Cookies = c
	}
	for k := range strings.SplitSeq(v["now"], ",") {
		if k != "" {
			i.Now = append(i.Now, k)
		}
	}
	return i
}

// FormatEvents writes an event log as it travels and is kept: "kind
// unixseconds", comma-separated, oldest first.
func FormatEvents(evs []Event) string {
	var b strings.Builder
	for i, e := range evs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e.Kind)
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(e.Time.Unix(), 10))
	}
	return b.String()
}

// ParseEvents reads what FormatEvents wrote, skipping malformed entries.
func ParseEvents(s string) []Event {
	var evs []Event
	for e := range strings.SplitSeq(s, ",") {
		kind, ts, ok := strings.Cut(e, " ")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if !ok || kind == "" || err != nil {
			continue
		}
		evs = append(evs, Event{Kind: kind, Time: time.Unix(sec, 0)})
	}
	return evs
}

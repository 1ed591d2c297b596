package session

import (
	"context"
	"log/slog"
	"os"
	"time"
)

// Event is one security event: theft signals, forks, logins, revocations.
// It never carries an ID or an ID hash; Ref identifies the record.
type Event struct {
	Time      time.Time
	Type      string // dotted name, e.g. "session.obsolete_id", "login.failed"
	Ref       string
	User      string
	IP        string
	UserAgent string
	Attrs     []slog.Attr // evidence specific to the event
}

// Auditor receives security events. Implementations must be safe for
// concurrent use and should not block the request for long.
type Auditor interface {
	Audit(ctx context.Context, e Event)
}

// SlogAuditor writes each event as one structured log record (JSON lines
// with NewJSONAuditor), at EventLevel's level for its type: the session
// lifecycle at Debug, so a handler at the usual Info level does not log a
// line per visitor, and security events at Info or Warn. The zero value
// writes to slog.Default().
type SlogAuditor struct {
	Logger *slog.Logger
	// MinLevel, if set, raises every event to at least this level: an
	// audit log that keeps the lifecycle too sets slog.LevelInfo (the
	// gateway's does). Security events keep Warn.
	MinLevel slog.Leveler
}

// NewJSONAuditor returns an auditor writing JSON lines to stderr at Info:
// security events, not the lifecycle (see SlogAuditor).
func NewJSONAuditor() *SlogAuditor {
	return &SlogAuditor{Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil))}
}

// lifecycleEvents happen in the normal life of every session; they are
// logged at Debug by default.
var lifecycleEvents = map[string]bool{
	"session.created": true, "session.rotated": true, "session.expired": true,
	"session.logout": true, "session.destroyed": true,
	"remember.issued": true, "remember.forgotten": true,
}

// attackEvents are signals of an attack (theft, forgery, probing); they
// are logged at Warn.
var attackEvents = map[string]bool{
	"session.obsolete_id": true, "session.fork": true, "session.id_bruteforce": true,
	"session.duplicate_cookie": true, "session.foreign_realm": true, "session.binding_mismatch": true,
	"remember.reuse": true, "remember.mismatch": true,
	"device.restore_refused": true, "modcrypto.replay": true,
}

// EventLevel is the level SlogAuditor logs an event type at by default:
// Debug for the lifecycle (session.created, session.rotated,
// session.expired, session.logout, session.destroyed, remember.issued,
// remember.forgotten), Warn for attack signals (session.obsolete_id,
// session.fork, session.id_bruteforce, session.duplicate_cookie,
// session.foreign_realm, session.binding_mismatch, remember.reuse,
// remember.mismatch, ...), Info for every other event (logins,
// revocations, refusals, sampled unknown IDs).
func EventLevel(typ string) slog.Level {
	switch {
	case lifecycleEvents[typ]:
		return slog.LevelDebug
	case attackEvents[typ]:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// Audit implements Auditor.
func (a *SlogAuditor) Audit(ctx context.Context, e Event) {
	l := a.Logger
	if l == nil {
		l = slog.Default()
	}
	level := EventLevel(e.Type)
	if a.MinLevel != nil {
		level = max(level, a.MinLevel.Level())
	}
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 6+len(e.Attrs))
	attrs = append(attrs, slog.String("event", e.Type))
	if !e.Time.IsZero() {
		attrs = append(attrs, slog.Time("event_time", e.Time))
	}
	for _, kv := range [][2]string{{"ref", e.Ref}, {"user", e.User}, {"ip", e.IP}, {"user_agent", e.UserAgent}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	attrs = append(attrs, e.Attrs...)
	l.LogAttrs(ctx, level, "audit", attrs...)
}

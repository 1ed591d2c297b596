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
// with NewJSONAuditor). The zero value writes to slog.Default().
type SlogAuditor struct {
	Logger *slog.Logger
}

// NewJSONAuditor returns an auditor writing JSON lines to stderr.
func NewJSONAuditor() *SlogAuditor {
	return &SlogAuditor{Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil))}
}

// Audit implements Auditor.
func (a *SlogAuditor) Audit(ctx context.Context, e Event) {
	l := a.Logger
	if l == nil {
		l = slog.Default()
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
	l.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
}

package session_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
)

// auditLines parses JSON audit lines into (event, level) pairs.
func auditLines(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for line := range strings.Lines(out) {
		var v struct{ Event, Level string }
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		got[v.Event] = v.Level
	}
	return got
}

// newVisitorThenTheft makes a new session (session.created), regenerates
// it (session.rotated) and presents the old ID after its grace window
// (session.obsolete_id: theft).
func newVisitorThenTheft(t *testing.T, h *harness, afterVisitor func()) {
	t.Helper()
	c := h.client()
	h.do(c, "POST", "/set?k=cart&v=1", nil)
	old := h.sid(c)
	if old == "" {
		t.Fatal("setup: no session was created")
	}
	h.do(c, "POST", "/regen", nil)
	afterVisitor()
	h.clock.Advance(31 * time.Second)
	h.do(h.rawClient(), "GET", "/get?k=cart", cookieHeader("__Host-sid", old))
}

// TestDefaultAuditorQuietForVisitors: the library's default auditor (JSON
// on stderr at Info) writes no line for a new visitor or a rotation, and
// writes a theft signal at WARN. A gateway-style auditor (MinLevel Info)
// keeps the lifecycle too.
func TestDefaultAuditorQuietForVisitors(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		f, err := os.CreateTemp(t.TempDir(), "stderr")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		stderr := os.Stderr
		os.Stderr = f // NewJSONAuditor writes to the os.Stderr of its creation
		h := newHarness(t, session.Config{Auditor: session.NewJSONAuditor(), Grace: 30 * time.Second}, nil)
		os.Stderr = stderr
		read := func() string {
			b, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		newVisitorThenTheft(t, h, func() {
			if out := read(); out != "" {
				t.Fatalf("the default auditor wrote for a new visitor and a rotation:\n%s", out)
			}
		})
		got := auditLines(t, read())
		if got["session.obsolete_id"] != "WARN" || len(got) != 1 {
			t.Fatalf("after a theft the default auditor wrote %v; want only session.obsolete_id at WARN", got)
		}
	})
	t.Run("SlogAuditor on an Info handler", func(t *testing.T) {
		var buf testkit.Buffer
		h := newHarness(t, session.Config{Auditor: &session.SlogAuditor{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}}, nil)
		newVisitorThenTheft(t, h, func() {
			if out := buf.String(); out != "" {
				t.Fatalf("an Info handler got lifecycle events:\n%s", out)
			}
		})
		if got := auditLines(t, buf.String()); got["session.obsolete_id"] != "WARN" {
			t.Fatalf("theft not logged at WARN: %v", got)
		}
	})
	t.Run("MinLevel Info keeps the lifecycle", func(t *testing.T) {
		var buf testkit.Buffer
		h := newHarness(t, session.Config{Auditor: &session.SlogAuditor{Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
			MinLevel: slog.LevelInfo}}, nil)
		newVisitorThenTheft(t, h, func() {})
		got := auditLines(t, buf.String())
		for ev, want := range map[string]string{"session.created": "INFO", "session.rotated": "INFO", "session.obsolete_id": "WARN"} {
			if got[ev] != want {
				t.Errorf("%s logged at %q, want %s (all: %v)", ev, got[ev], want, got)
			}
		}
	})
}

func TestEventLevel(t *testing.T) {
	for _, tc := range []struct {
		event string
		want  slog.Level
	}{
		{"session.created", slog.LevelDebug},
		{"session.rotated", slog.LevelDebug},
		{"session.expired", slog.LevelDebug},
		{"session.obsolete_id", slog.LevelWarn},
		{"session.fork", slog.LevelWarn},
		{"remember.reuse", slog.LevelWarn},
		{"session.revoked_all", slog.LevelInfo},
		{"login.failed", slog.LevelInfo},
		{"csrf.refused", slog.LevelInfo},
	} {
		t.Run(tc.event, func(t *testing.T) {
			if got := session.EventLevel(tc.event); got != tc.want {
				t.Fatalf("EventLevel(%q) = %v, want %v", tc.event, got, tc.want)
			}
		})
	}
	// A disabled level costs nothing: the auditor does not even build the
	// record (checked by a handler that fails on any record).
	a := &session.SlogAuditor{Logger: slog.New(failHandler{t})}
	a.Audit(context.Background(), session.Event{Type: "session.created"})
}

type failHandler struct{ t *testing.T }

func (h failHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h failHandler) Handle(_ context.Context, r slog.Record) error {
	h.t.Errorf("record at %v written", r.Level)
	return nil
}
func (h failHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h failHandler) WithGroup(string) slog.Handler      { return h }

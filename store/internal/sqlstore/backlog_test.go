package sqlstore

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestBacklog(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type sweep struct {
		cut     time.Duration // after t0
		took    time.Duration
		deleted int
		left    int
	}
	cases := []struct {
		name       string
		sweeps     []sweep
		wantLeft   int
		wantBehind bool
		wantLog    string // substring of the last sweep's log ("" : none)
	}{
		{"first sweep is not judged, however long", []sweep{{time.Hour, 10 * time.Minute, 1_000_000, 50_000}},
			50_000, false, ""},
		{"keeps up: each sweep shorter than the span it covered",
			[]sweep{{0, time.Second, 100, 0}, {5 * time.Minute, 10 * time.Second, 1000, 3}},
			3, false, ""},
		{"falls behind: a sweep longer than the span it covered",
			[]sweep{{0, time.Second, 100, 0}, {5 * time.Minute, 6 * time.Minute, 30_000, 36_000}},
			36_000, true, "GC is falling behind"},
		{"catches up again",
			[]sweep{{0, time.Second, 100, 0}, {5 * time.Minute, 6 * time.Minute, 30_000, 36_000},
				{11 * time.Minute, 4 * time.Minute, 36_000, 2_000}},
			2_000, false, "GC keeps up again"},
		{"a cut-off not after the previous one is not judged",
			[]sweep{{time.Hour, time.Second, 100, 0}, {0, time.Hour, 10, 5}},
			5, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b Backlog
			var logs bytes.Buffer
			for _, s := range tc.sweeps {
				logs.Reset()
				log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				b.Sweep(log, "test store", t0.Add(s.cut), s.took, s.deleted, s.left)
			}
			left, behind := b.Get()
			if left != tc.wantLeft || behind != tc.wantBehind {
				t.Fatalf("Get() = %d, %v; want %d, %v", left, behind, tc.wantLeft, tc.wantBehind)
			}
			switch got := logs.String(); {
			case tc.wantLog == "" && got != "":
				t.Fatalf("logged %q, want nothing", got)
			case tc.wantLog != "" && !strings.Contains(got, tc.wantLog):
				t.Fatalf("logged %q, want %q", got, tc.wantLog)
			}
			if tc.wantBehind && !strings.Contains(logs.String(), "level=WARN") {
				t.Fatalf("falling behind logged %q, want a warning", logs.String())
			}
		})
	}
}

package admin

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
	"github.com/sessiond/sessiond/store/sealed"
	"github.com/sessiond/sessiond/store/sqlite"
)

// TestMetricsShowGCFallingBehind: a store whose GC falls behind says so
// on /metrics (sessiond_store_gc_behind, and the expired records it left),
// directly and through the encrypting wrapper; a store without a GC
// backlog (memory) exports neither series.
func TestMetricsShowGCFallingBehind(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	cases := []struct {
		name   string
		sealed bool
	}{{"sqlite", false}, {"sealed sqlite", true}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlite.New(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "s.db"), Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			var st session.Store = db
			if tc.sealed {
				if st, err = sealed.New(sealed.Config{Inner: db, Keys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, Logger: quiet}); err != nil {
					t.Fatal(err)
				}
			}
			base := time.Now().Truncate(time.Second)
			for i, exp := range []time.Time{base.Add(-time.Minute), base.Add(3 * time.Microsecond), base.Add(3 * time.Microsecond)} {
				rec := &session.Record{Ref: "r" + string(rune('a'+i)), ID: session.Hash{byte(i + 1)}, Version: 1, Expires: exp}
				if err := st.Create(ctx, rec); err != nil {
					t.Fatal(err)
				}
			}
			// A first sweep, then one that covers 2µs of expiries and
			// takes longer: behind, with the two records that expired
			// meanwhile left.
			for _, cut := range []time.Time{base, base.Add(2 * time.Microsecond)} {
				if _, err := st.GC(ctx, cut); err != nil {
					t.Fatal(err)
				}
			}
			m := scrape(t, st)
			for _, want := range []string{"sessiond_store_gc_behind 1", "sessiond_store_gc_backlog_records 2"} {
				if !strings.Contains(m, want) {
					t.Fatalf("metrics lack %q:\n%s", want, grepLines(m, "sessiond_store_gc"))
				}
			}
		})
	}
	t.Run("memory", func(t *testing.T) {
		if m := scrape(t, nil); strings.Contains(m, "sessiond_store_gc") {
			t.Fatalf("a memory store exports GC backlog series:\n%s", grepLines(m, "sessiond_store_gc"))
		}
	})
}

// scrape serves st's metrics (nil: a memory store) and reads /metrics.
func scrape(t *testing.T, st session.Store) string {
	t.Helper()
	if st == nil {
		mem := memory.New(memory.Config{SweepInterval: -1})
		t.Cleanup(func() { mem.Close() })
		st = mem
	}
	m := NewMetrics()
	m.StoreGC(st)
	const token = "admintoken-0123456789"
	admin := httptest.NewServer(Handler(Config{Token: token, Store: st, MetricsPath: "/metrics", Metrics: m,
		Logger: slog.New(slog.DiscardHandler)}))
	defer admin.Close()
	req, _ := http.NewRequest("GET", admin.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %s", resp.Status)
	}
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

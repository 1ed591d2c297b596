package accesslog

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestLine: one line per request in either format, the session named by
// its Ref only, and a hostile user name kept inside its field.
func TestLine(t *testing.T) {
	start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		json       bool
		user, ref  string
		n          int64
		want       string
		wantFields map[string]any
	}{
		{name: "combined", user: "alice", ref: "ref1", n: 12,
			want: `192.0.2.7 - alice [04/Mar/2026:05:06:07 +0000] "GET /p?q=1 HTTP/1.1" 200 12 "-" "ua" "ref1"` + "\n"},
		{name: "combined, anonymous, no body", n: 0,
			want: `192.0.2.7 - - [04/Mar/2026:05:06:07 +0000] "GET /p?q=1 HTTP/1.1" 200 - "-" "ua" "-"` + "\n"},
		{name: "combined, a user name that would break the fields", user: "eve\" 200 9 \"x\n", ref: "r", n: 1,
			want: `192.0.2.7 - eve\" 200 9 \"x\n [04/Mar/2026:05:06:07 +0000] "GET /p?q=1 HTTP/1.1" 200 1 "-" "ua" "r"` + "\n"},
		{name: "json", json: true, user: "alice", ref: "ref1", n: 12,
			wantFields: map[string]any{"site": "app", "ip": "192.0.2.7", "method": "GET", "path": "/p?q=1",
				"status": 200.0, "bytes": 12.0, "user": "alice", "session_ref": "ref1", "secure": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf, tc.json)
			r, e := WithEntry(httptest.NewRequest("GET", "/p?q=1", nil))
			r.Header.Set("User-Agent", "ua")
			e.user, e.ref = tc.user, tc.ref
			l.Write(r, "app", "192.0.2.7", true, e, 0, tc.n, start)
			got := buf.String()
			if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
				t.Fatalf("not one line: %q", got)
			}
			if !tc.json {
				if got != tc.want {
					t.Fatalf("line\n got %q\nwant %q", got, tc.want)
				}
				return
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(got), &m); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.wantFields {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
		})
	}
}

// TestRecorder: the status is the first final one (1xx skipped), 200 when
// the handler only writes, and the body bytes are counted.
func TestRecorder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(w http.ResponseWriter)
		code  int
		n     int64
	}{
		{"write only", func(w http.ResponseWriter) { w.Write([]byte("hello")) }, 200, 5},
		{"early hints, then 404", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNotFound)
		}, 404, 0},
		{"nothing", func(w http.ResponseWriter) {}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &Recorder{ResponseWriter: httptest.NewRecorder()}
			tc.serve(rec)
			if rec.Code != tc.code || rec.N != tc.n {
				t.Fatalf("Code, N = %d, %d; want %d, %d", rec.Code, rec.N, tc.code, tc.n)
			}
		})
	}
}

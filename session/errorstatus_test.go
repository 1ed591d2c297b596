package session_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/session"
)

// TestErrorStatus: each middleware error gets its documented status and
// headers, and DefaultErrorHandler answers exactly that.
func TestErrorStatus(t *testing.T) {
	type want struct {
		code       int
		retryAfter string
	}
	for name, tt := range map[string]struct {
		err error
		want
	}{
		"throttled":        {fmt.Errorf("load: %w", session.ErrThrottled), want{http.StatusTooManyRequests, "60"}},
		"plain HTTP":       {session.ErrPlainHTTP, want{http.StatusInternalServerError, ""}},
		"identity changed": {session.ErrIdentityChanged, want{http.StatusConflict, ""}},
		"too large":        {fmt.Errorf("save: %w", session.ErrTooLarge), want{http.StatusInternalServerError, ""}},
		"store down":       {fmt.Errorf("load: %w", session.ErrUnavailable), want{http.StatusServiceUnavailable, "5"}},
	} {
		t.Run(name, func(t *testing.T) {
			code, msg := session.ErrorStatus(tt.err)
			if code != tt.code || msg == "" {
				t.Fatalf("ErrorStatus = %d %q, want %d and a message", code, msg, tt.code)
			}
			if strings.Contains(msg, "load:") || strings.Contains(msg, "save:") {
				t.Errorf("message %q echoes the internal error", msg)
			}
			rec := httptest.NewRecorder()
			session.DefaultErrorHandler(rec, httptest.NewRequest("GET", "/", nil), tt.err)
			if rec.Code != code || strings.TrimSpace(rec.Body.String()) != msg {
				t.Errorf("DefaultErrorHandler = %d %q, want %d %q", rec.Code, rec.Body.String(), code, msg)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
}

package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// errBodyTimeout is what a request body reads once its deadline passed.
var errBodyTimeout = errors.New("gateway: request body not received in time")

// deadlineBody ends a request body at a deadline on the connection (set
// by limitBody) and lifts the deadline once the body is read, so that a
// long response (an event stream) is not cut.
type deadlineBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	done     bool
	timedOut atomic.Bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF && !b.done:
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	case err != nil && err != io.EOF && errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut.Store(true)
		return n, errBodyTimeout
	}
	return n, err
}

type bodyKey struct{}

// limitBody gives r's body at most d to arrive (a client trickling a body
// byte by byte would hold the connection and a backend request forever).
func limitBody(w http.ResponseWriter, r *http.Request, d time.Duration) *http.Request {
	if d <= 0 || r.Body == nil || r.Body == http.NoBody {
		return r
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(d)) != nil {
		return r
	}
	b := &deadlineBody{ReadCloser: r.Body, rc: rc}
	r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
	r.Body = b
	return r
}

// bodyTimedOut reports whether r's body (or that of the request r was
// made from) hit its deadline.
func bodyTimedOut(r *http.Request) bool {
	b, ok := r.Context().Value(bodyKey{}).(*deadlineBody)
	return ok && b.timedOut.Load()
}

package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// ErrBodyTimeout is what a request body reads once its deadline passed.
var ErrBodyTimeout = errors.New("upstream: request body not received in time")

// BodyLimit is how long a request body may take, as Apache's
// mod_reqtimeout counts it (body=20,MinRate=500): Initial from the end
// of the headers, extended by one second for every MinRate bytes
// received. A client trickling a byte a second is cut after about
// Initial; an upload at MinRate bytes a second or faster is never cut.
// MinRate 0 makes Initial the bound of the whole body; Initial 0 is no
// bound.
type BodyLimit struct {
	Initial time.Duration
	MinRate int64 // bytes per second; 0: no extension
}

// deadline is when a body that started at start and has delivered read
// bytes so far must have delivered more.
func (a BodyLimit) deadline(start time.Time, read int64) time.Time {
	d := start.Add(a.Initial)
	if a.MinRate <= 0 || read <= 0 {
		return d
	}
	// Whole seconds, then the remainder: read*time.Second would overflow
	// past 9 GB.
	extra := time.Duration(read/a.MinRate)*time.Second + time.Duration(read%a.MinRate)*time.Second/time.Duration(a.MinRate)
	return d.Add(extra)
}

// deadlineBody ends a request body at a deadline on the connection,
// moved on as bytes arrive (BodyLimit), and lifts the deadline once
// the body is read, so that a long response (an event stream) is not cut.
type deadlineBody struct {
	io.ReadCloser
	setDeadline func(time.Time) error
	now         func() time.Time
	allow       BodyLimit
	start       time.Time
	read        int64
	done        bool
	timedOut    atomic.Bool
}

// newDeadlineBody starts body's allowance now and sets its first deadline
// (set is the connection's SetReadDeadline).
func newDeadlineBody(body io.ReadCloser, a BodyLimit, set func(time.Time) error, now func() time.Time) (*deadlineBody, error) {
	b := &deadlineBody{ReadCloser: body, setDeadline: set, now: now, allow: a, start: now()}
	if err := set(a.deadline(b.start, 0)); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 && b.allow.MinRate > 0 && !b.done {
		b.read += int64(n)
		b.setDeadline(b.allow.deadline(b.start, b.read))
	}
	switch {
	case err == io.EOF && !b.done:
		b.done = true
		b.setDeadline(time.Time{})
	case err != nil && err != io.EOF && errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut.Store(true)
		return n, ErrBodyTimeout
	}
	return n, err
}

type bodyKey struct{}

// LimitBody bounds the arrival of r's body by l on w's connection: a
// client trickling a body byte by byte would hold the connection and a
// backend request for as long as it likes. A read past the deadline
// fails with ErrBodyTimeout and BodyTimedOut reports it: the caller
// answers 408 and closes the connection.
func LimitBody(w http.ResponseWriter, r *http.Request, l BodyLimit) *http.Request {
	if l.Initial <= 0 || r.Body == nil || r.Body == http.NoBody {
		return r
	}
	rc := http.NewResponseController(w)
	b, err := newDeadlineBody(r.Body, l, rc.SetReadDeadline, time.Now)
	if err != nil {
		return r
	}
	r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
	r.Body = b
	return r
}

// BodyTimedOut reports whether r's body (or that of the request r was
// made from) hit its deadline.
func BodyTimedOut(r *http.Request) bool {
	b, ok := r.Context().Value(bodyKey{}).(*deadlineBody)
	return ok && b.timedOut.Load()
}

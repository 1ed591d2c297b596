// Package accesslog writes the gateway's access log: one line per
// request, naming the session by its Ref only.
package accesslog

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sessiond/sessiond/session"
)

// Log writes one line per request: Apache's combined format with the
// session's Ref appended, or JSON. A session is named by its Ref only —
// never by an ID or a hash of one.
type Log struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

// Entry collects what the site learns while serving a request.
type Entry struct {
	ref, user string
}

type accessKey struct{}

// NoteSession records sess on r's access-log entry, if there is one.
func NoteSession(r *http.Request, sess *session.Session) {
	if e, ok := r.Context().Value(accessKey{}).(*Entry); ok && sess != nil {
		e.ref, e.user = sess.Ref(), sess.User()
	}
}

// WithEntry gives r an entry for the site to fill while serving it.
func WithEntry(r *http.Request) (*http.Request, *Entry) {
	e := &Entry{}
	return r.WithContext(context.WithValue(r.Context(), accessKey{}, e)), e
}

type accessJSON struct {
	Time      time.Time `json:"time"`
	Site      string    `json:"site"`
	IP        string    `json:"ip"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Proto     string    `json:"proto"`
	Status    int       `json:"status"`
	Bytes     int64     `json:"bytes"`
	Duration  float64   `json:"duration_ms"`
	Referer   string    `json:"referer,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	User      string    `json:"user,omitempty"`
	Ref       string    `json:"session_ref,omitempty"`
	Secure    bool      `json:"secure"`
}

// New returns a log writing to w, as JSON lines or else in Apache's
// combined format.
func New(w io.Writer, asJSON bool) *Log { return &Log{w: w, json: asJSON} }

// Write logs r, served by site to the client ip (over HTTPS if secure),
// with status code and n body bytes.
func (a *Log) Write(r *http.Request, site, ip string, secure bool, e *Entry, code int, n int64, start time.Time) {
	if code == 0 {
		code = http.StatusOK
	}
	var line []byte
	if a.json {
		line, _ = json.Marshal(accessJSON{Time: start, Site: site, IP: ip, Method: r.Method,
			Path: r.URL.RequestURI(), Proto: r.Proto, Status: code, Bytes: n,
			Duration: float64(time.Since(start).Microseconds()) / 1000, Referer: r.Referer(),
			UserAgent: r.UserAgent(), User: e.user, Ref: e.ref, Secure: secure})
		line = append(line, '\n')
	} else {
		// host ident user [time] "request" status bytes "referer" "agent" "ref"
		b := make([]byte, 0, 256)
		b = append(b, dash(ip)...)
		b = append(b, " - "...)
		b = append(b, dash(quoteless(e.user))...)
		b = start.AppendFormat(append(b, " ["...), "02/Jan/2006:15:04:05 -0700")
		b = append(b, "] "...)
		b = strconv.AppendQuote(b, r.Method+" "+r.URL.RequestURI()+" "+r.Proto)
		b = strconv.AppendInt(append(b, ' '), int64(code), 10)
		b = append(b, ' ')
		if n == 0 {
			b = append(b, '-')
		} else {
			b = strconv.AppendInt(b, n, 10)
		}
		b = strconv.AppendQuote(append(b, ' '), dash(r.Referer()))
		b = strconv.AppendQuote(append(b, ' '), dash(r.UserAgent()))
		b = strconv.AppendQuote(append(b, ' '), dash(e.ref))
		line = append(b, '\n')
	}
	a.mu.Lock()
	a.w.Write(line)
	a.mu.Unlock()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// quoteless keeps a user name from breaking the line's fields.
func quoteless(s string) string {
	return strconv.QuoteToASCII(s)[1 : len(strconv.QuoteToASCII(s))-1]
}

// Recorder notes a response's status (Code) and body bytes (N).
type Recorder struct {
	http.ResponseWriter
	Code int
	N    int64 // body bytes written
}

func (s *Recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
func (s *Recorder) WriteHeader(c int) {
	if s.Code == 0 && c >= 200 {
		s.Code = c
	}
	s.ResponseWriter.WriteHeader(c)
}
func (s *Recorder) Write(b []byte) (int, error) {
	if s.Code == 0 {
		s.Code = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.N += int64(n)
	return n, err
}
func (s *Recorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

package gateway

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"

	"github.com/sessiond/sessiond/session"
)

// sessionErrors is the session manager's ErrorHandler for a site: the
// library's status and message (503 store down, 429 throttled, ...) on
// the gateway's error page.
func sessionErrors(site string) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		rec := &errorRecorder{h: w.Header()}
		session.DefaultErrorHandler(rec, r, err)
		errorPage(w, site, rec.code, strings.TrimSpace(rec.body.String()))
	}
}

// errorRecorder catches DefaultErrorHandler's answer; its headers
// (Retry-After) go straight to the real response.
type errorRecorder struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (e *errorRecorder) Header() http.Header         { return e.h }
func (e *errorRecorder) WriteHeader(code int)        { e.code = code }
func (e *errorRecorder) Write(p []byte) (int, error) { return e.body.Write(p) }

// errorPage answers with one of the gateway's own error pages: the
// message, and a link back to the site's home (its HTTPS origin when the
// error is about transport, else the same origin).
func errorPage(w http.ResponseWriter, site string, code int, msg string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	errorTmpl.Execute(w, struct {
		Site, Status, Message string
	}{site, http.StatusText(code), msg})
}

var errorTmpl = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Status}} — {{.Site}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1d2330}</style></head>
<body><p><a href="/" id="home">← Back to {{.Site}}</a></p><h1>{{.Status}}</h1><p id="error">{{.Message}}</p></body></html>
`))

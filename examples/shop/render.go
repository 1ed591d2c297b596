package shop

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
)

// fail renders an error page with the shared layout. v is the request's
// view if the handler already made one, else nil.
func (s *shop) fail(w http.ResponseWriter, r *http.Request, v *view, code int, msg string) {
	if v == nil {
		v = s.newView(r, "")
	}
	v.Title = http.StatusText(code)
	v.Message = msg
	s.render(w, r, "error", code, v)
}

func (s *shop) render(w http.ResponseWriter, r *http.Request, page string, code int, v *view) {
	v.Page = page
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.cfg.Logger.Error("shop: rendering page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store") // pages carry session data and CSRF tokens
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

var pages = parsePages()

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout").Parse(layoutHTML))
	m := make(map[string]*template.Template, len(pageHTML))
	for name, src := range pageHTML {
		m[name] = template.Must(template.Must(base.Clone()).Parse(src))
	}
	return m
}

// Package pages renders the pages the gateway shows people itself: the
// sign-in page, the refusal of a sign-in, the sessions page and the
// error pages. Each is an html/template; the built-in ones share one
// stylesheet, written into the page (no outside assets, fonts or
// scripts), that reads well on a phone and follows the system's dark
// mode.
//
// An operator replaces any of them with a file of the same name in a
// templates directory (Load): login.html, refused.html, sessions.html,
// error.html. Such a template gets the page's data struct (LoginPage,
// RefusedPage, SessionsPage, ErrorPage) as its dot, the function
// "when" (a time in the gateway's local zone, "2 Jan 2006 15:04 MST"),
// and the built-in parts "head", "style", "home" and "csrf" (see
// templates/layout.html). html/template escapes everything it writes
// for its context, so data from requests cannot add markup.
//
// Every page goes out with Content-Type text/html; charset=utf-8,
// Cache-Control: no-store, X-Content-Type-Options: nosniff,
// X-Frame-Options: DENY, Referrer-Policy: same-origin and a
// Content-Security-Policy that allows no scripts, no frames and no
// outside resources (images from the site itself and inline styles are
// allowed).
package pages

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The file names of the pages: a template of this name in an operator's
// templates directory replaces the built-in page.
const (
	Login    = "login.html"
	Refused  = "refused.html"
	Sessions = "sessions.html"
	Error    = "error.html"
)

// Names lists every page's file name.
func Names() []string { return []string{Error, Login, Refused, Sessions} }

// MaxFileSize bounds a template file.
const MaxFileSize = 1 << 20

// CSP is the Content-Security-Policy of every page.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"

//go:embed templates/*.html
var builtin embed.FS

// funcs are the functions every template may call.
var funcs = template.FuncMap{"when": when}

// when formats a time with its zone, in the gateway's local time.
func when(t time.Time) string { return t.Local().Format("2 Jan 2006 15:04 MST") }

// Set is the templates of every page: the built-in ones, some replaced
// by an operator's. A Set is read-only and safe for concurrent use. The
// nil *Set renders the built-in pages.
type Set struct {
	pages  map[string]*template.Template
	custom map[string]string // page -> the file it came from
}

// layout holds the built-in parts; it is only ever cloned (html/template
// cannot clone a template that has run).
var layout = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(builtin, "templates/layout.html"))

var defaults = mustBuiltin()

// Default returns the built-in pages.
func Default() *Set { return defaults }

func mustBuiltin() *Set {
	s := &Set{pages: map[string]*template.Template{}, custom: map[string]string{}}
	for _, name := range Names() {
		t := template.Must(layout.Clone())
		s.pages[name] = template.Must(t.New(name).ParseFS(builtin, "templates/"+name)).Lookup(name)
	}
	return s
}

// FS is what Load reads a templates directory with; the gateway's
// config.FileSystem is one.
type FS interface {
	ReadDir(name string) ([]fs.DirEntry, error)
	ReadFile(name string) ([]byte, error)
}

// OS is the operating system's files.
var OS FS = osFS{}

type osFS struct{}

func (osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
func (osFS) ReadFile(name string) ([]byte, error)       { return os.ReadFile(name) }

// FileError is a problem with one file of a templates directory.
type FileError struct {
	File string // the file's path
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// ErrUnknownPage is the error of a file that names no page.
var ErrUnknownPage = errors.New("names no page")

// Load reads the operator's templates in dir: each file named after a
// page replaces the built-in page; pages without a file stay built-in.
// Names starting with "." (editor and VCS files) are ignored. Any other
// file, a template that does not parse, or one that fails when run on
// sample data (a misspelt field), is an error: Load then returns every
// problem joined, each a *FileError naming its file.
func Load(fsys FS, dir string) (*Set, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, &FileError{File: dir, Err: err}
	}
	s := &Set{pages: map[string]*template.Template{}, custom: map[string]string{}}
	for name, t := range defaults.pages {
		s.pages[name] = t
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		file := filepath.Join(dir, name)
		if !slices.Contains(Names(), name) {
			errs = append(errs, &FileError{File: file, Err: fmt.Errorf("%w (want one of %s)", ErrUnknownPage, strings.Join(Names(), ", "))})
			continue
		}
		t, err := parse(fsys, file, name)
		if err != nil {
			errs = append(errs, &FileError{File: file, Err: err})
			continue
		}
		s.pages[name], s.custom[name] = t, file
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// samples are a page of each kind, by file name.
var samples = map[string]Page{Login: LoginPage{}.sample(), Refused: RefusedPage{}.sample(),
	Sessions: SessionsPage{}.sample(), Error: ErrorPage{}.sample()}

// parse reads one operator template beside the built-in parts and tries
// it on its page's sample data.
func parse(fsys FS, file, name string) (*template.Template, error) {
	b, err := fsys.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	base, err := layout.Clone()
	if err != nil {
		return nil, err
	}
	t, err := base.New(name).Parse(string(b))
	if err != nil {
		return nil, err
	}
	if err := t.Execute(&bytes.Buffer{}, samples[name]); err != nil {
		return nil, err
	}
	return t, nil
}

// Custom lists the pages an operator's file replaces, as page: file.
func (s *Set) Custom() map[string]string {
	if s == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range s.custom {
		out[k] = v
	}
	return out
}

// Render answers w with page p and status code, with the headers every
// page gets (see the package documentation). If an operator's template
// fails while running, the built-in page is sent instead and the error
// returned, for the log; nothing half-rendered is ever sent.
func (s *Set) Render(w http.ResponseWriter, code int, p Page) error {
	if s == nil {
		s = defaults
	}
	if e, ok := p.(ErrorPage); ok {
		e.Code = code
		if e.Title == "" {
			e.Title = http.StatusText(code)
		}
		p = e
	}
	name := p.File()
	var body bytes.Buffer
	err := s.pages[name].Execute(&body, p)
	if err != nil {
		err = fmt.Errorf("pages: %s: %w", s.custom[name], err)
		body.Reset()
		if err2 := defaults.pages[name].Execute(&body, p); err2 != nil {
			return errors.Join(err, err2)
		}
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", CSP)
	w.WriteHeader(code)
	w.Write(body.Bytes())
	return err
}

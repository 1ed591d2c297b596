package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// FieldError is one problem in a configuration: where it is (file, line,
// key path) and what is wrong, in words meant for the operator. It never
// contains the value of a secret.
//
// Load and Validate return every problem they find, joined with errors.Join
// in line order; Errors takes them apart again, for example to show them as
// JSON.
type FieldError struct {
	File string // config file name as given to Load; "" for configs built in code
	Line int    // 1-based; 0 if unknown
	Path string // key path, e.g. "sites[0].session.idle_timeout"; "" for the whole file
	Msg  string
}

func (e *FieldError) Error() string { return position(e.File, e.Line, e.Path) + e.Msg }

// Warning is a configuration that works but is probably not what was meant,
// or is unsafe in production (an inline secret, a legacy setting). Same
// shape as FieldError.
type Warning struct {
	File string
	Line int
	Path string
	Msg  string
}

func (w Warning) String() string { return position(w.File, w.Line, w.Path) + w.Msg }

func position(file string, line int, path string) string {
	var b strings.Builder
	if file != "" {
		b.WriteString(file)
		if line > 0 {
			fmt.Fprintf(&b, ":%d", line)
		}
		b.WriteString(": ")
	} else if line > 0 {
		fmt.Fprintf(&b, "line %d: ", line)
	}
	if path != "" {
		b.WriteString(path)
		b.WriteString(": ")
	}
	return b.String()
}

// Errors returns the FieldErrors inside err (as returned by Load or
// Validate), in order.
func Errors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		walk(errors.Unwrap(err))
	}
	walk(err)
	return out
}

// source remembers where each key of a loaded file was, so that checks made
// after decoding can still name a line.
type source struct {
	file  string
	lines map[string]int // key path -> line of the key
}

// line returns the line of path, or of its nearest ancestor that appeared
// in the file (a defaulted field is reported at its parent's line).
func (s *source) line(path string) int {
	if s == nil {
		return 0
	}
	for path != "" {
		if l, ok := s.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return s.lines[""]
}

// present reports whether path was written in the file.
func (s *source) present(path string) bool {
	if s == nil {
		return false
	}
	_, ok := s.lines[path]
	return ok
}

// problems collects errors and warnings while loading.
type problems struct {
	src   *source
	errs  []*FieldError
	warns []Warning
}

func (p *problems) file() string {
	if p.src == nil {
		return ""
	}
	return p.src.file
}

// errAt records an error at an explicit line.
func (p *problems) errAt(line int, path, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{File: p.file(), Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// errf records an error at path's line.
func (p *problems) errf(path, format string, args ...any) {
	p.errAt(p.src.line(path), path, format, args...)
}

// warnf records a warning at path's line.
func (p *problems) warnf(path, format string, args ...any) {
	p.warns = append(p.warns, Warning{File: p.file(), Line: p.src.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// result sorts what was found by line, then path, and joins the errors.
func (p *problems) result() ([]Warning, error) {
	slices.SortStableFunc(p.errs, func(a, b *FieldError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Msg, b.Msg))
	})
	p.errs = slices.CompactFunc(p.errs, func(a, b *FieldError) bool { return *a == *b })
	slices.SortStableFunc(p.warns, func(a, b Warning) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Msg, b.Msg))
	})
	p.warns = slices.Compact(p.warns)
	if len(p.errs) == 0 {
		return p.warns, nil
	}
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return p.warns, errors.Join(errs...)
}

// quote shows a user-supplied value in a message, shortened if long.
func quote(s string) string {
	const max = 60
	if len(s) > max {
		s = s[:max-3] + "..."
	}
	return fmt.Sprintf("%q", s)
}

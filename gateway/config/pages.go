package config

import (
	"errors"
	"fmt"

	"github.com/sessiond/sessiond/gateway/pages"
)

// Pages are the pages the gateway shows people itself: sign-in, a
// refused sign-in, the sessions page and its error pages. Built in, with
// one stylesheet and no outside assets; an operator replaces any of them
// with an html/template file (package gateway/pages documents each
// page's data and the parts a template may use).
type Pages struct {
	// TemplatesDir holds the replacements, named after their page:
	// login.html, refused.html, sessions.html, error.html; a page without
	// a file stays built-in, and names starting with "." are ignored.
	// Any other file, a template that does not parse, or one that fails
	// on sample data (a misspelt field) is an error at load and
	// check-config, naming the file. Read at start and on every reload.
	// The top-level pages are every site's default; a site's own
	// pages.templates_dir replaces them for that site. Default "": the
	// built-in pages.
	TemplatesDir string `yaml:"templates_dir"`

	// Set is what the gateway renders, filled by Load and Validate from
	// TemplatesDir (nil, meaning the built-in pages, when it is "").
	Set *pages.Set `yaml:"-"`
}

// provisionPages makes the directories absolute; a site without its own
// takes the top-level one.
func provisionPages(c *Config, r *resolver) {
	c.Pages.TemplatesDir = r.abs(c.Pages.TemplatesDir)
	for i := range c.Sites {
		s := &c.Sites[i].Pages
		s.TemplatesDir = r.abs(s.TemplatesDir)
		if s.TemplatesDir == "" {
			s.TemplatesDir = c.Pages.TemplatesDir
		}
	}
}

// resolvePages loads each templates directory once, reporting its
// problems at the key that names it.
func resolvePages(c *Config, r *resolver) {
	loaded := map[string]*pages.Set{}
	load := func(path string, p *Pages) {
		if p.TemplatesDir == "" {
			p.Set = nil
			return
		}
		if set, ok := loaded[p.TemplatesDir]; ok {
			p.Set = set
			return
		}
		n := len(r.p.errs)
		if r.needDir(path, p.TemplatesDir); len(r.p.errs) > n {
			loaded[p.TemplatesDir] = nil
			return
		}
		set, err := pages.Load(r.fs, p.TemplatesDir)
		loaded[p.TemplatesDir] = set
		p.Set = set
		if err == nil {
			return
		}
		var joined interface{ Unwrap() []error }
		if !errors.As(err, &joined) {
			r.p.errf(path, "%v", err)
			return
		}
		for _, e := range joined.Unwrap() {
			r.p.errf(path, "%v", e)
		}
	}
	load("pages.templates_dir", &c.Pages)
	for i := range c.Sites {
		load(fmt.Sprintf("sites[%d].pages.templates_dir", i), &c.Sites[i].Pages)
	}
}

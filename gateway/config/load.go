package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// MaxFileSize bounds a configuration file.
const MaxFileSize = 1 << 20

// FileSystem is what loading reads secret and key files with and checks
// other paths against. The default is the operating system's; tests can
// substitute their own.
type FileSystem interface {
	ReadFile(name string) ([]byte, error)
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
}

type osFS struct{}

func (osFS) ReadFile(name string) ([]byte, error)       { return os.ReadFile(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// Option changes how Load, LoadFile and Validate reach the outside world.
type Option func(*resolver)

// WithBaseDir resolves relative paths in the configuration against dir.
// LoadFile uses the config file's directory; the default otherwise is the
// working directory.
func WithBaseDir(dir string) Option { return func(r *resolver) { r.base = dir } }

// WithDevTLS is `serve --dev-tls`: HTTPS on (at listen.https.addr, or
// DefaultHTTPSAddr) with a generated self-signed certificate instead of
// the configured files, applied before the configuration is checked, so the
// loopback rule and every other check judge what will actually run.
func WithDevTLS() Option { return func(r *resolver) { r.devTLS = true } }

// WithEnv replaces os.LookupEnv for secrets given as environment variables.
func WithEnv(lookup func(string) (string, bool)) Option {
	return func(r *resolver) { r.env = lookup }
}

// WithFS replaces the operating system's files.
func WithFS(fsys FileSystem) Option { return func(r *resolver) { r.fs = fsys } }

// resolver carries what provisioning needs from outside: the base
// directory, environment and files, and where to report problems.
type resolver struct {
	devTLS bool
	base   string
	env    func(string) (string, bool)
	fs     FileSystem
	p      *problems
}

func newResolver(p *problems, opts []Option) *resolver {
	r := &resolver{env: os.LookupEnv, fs: osFS{}, p: p}
	for _, o := range opts {
		o(r)
	}
	if r.base != "" {
		if abs, err := filepath.Abs(r.base); err == nil {
			r.base = abs
		}
	}
	return r
}

// LoadFile reads and checks the configuration file at path. Relative paths
// inside it are taken from the file's directory. See Load.
func LoadFile(path string, opts ...Option) (*Config, []Warning, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() > MaxFileSize {
		return nil, nil, &FieldError{File: path, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	opts = append([]Option{WithBaseDir(filepath.Dir(path))}, opts...)
	return Load(path, data, opts...)
}

// Load parses data (named name in messages) strictly, fills in defaults,
// checks everything, reads the secrets and keys it names, and checks that
// the files and directories it names exist.
//
// On success it returns the configuration and any warnings (inline
// secrets, settings that are legal but probably unintended). Otherwise it
// returns no configuration and an error joining one *FieldError per
// problem, sorted by line (see Errors); warnings found so far come too.
// Nothing is logged, and no message contains a secret.
func Load(name string, data []byte, opts ...Option) (*Config, []Warning, error) {
	src := &source{file: name, lines: map[string]int{}}
	p := &problems{src: src}
	if len(data) > MaxFileSize {
		p.errAt(0, "", "file is larger than %d bytes", MaxFileSize)
		w, err := p.result()
		return nil, w, err
	}
	cfg := Default()
	cfg.src = src
	root, ok := parse(p, data)
	if ok && root != nil {
		src.lines[""] = root.Line
		(&decoder{p: p}).decode(root, "", reflect.ValueOf(&cfg).Elem())
	}
	if !ok {
		w, err := p.result()
		return nil, w, err
	}
	r := newResolver(p, opts)
	if r.devTLS {
		h := &cfg.Listen.HTTPS
		h.DevTLS, h.CertFile, h.KeyFile, h.ACME = true, "", "", nil
	}
	if len(p.errs) > 0 {
		// Keep checking, to report everything at once, but leave out what
		// only repeats a decoding error in other words, and touch no files.
		q := &problems{src: src}
		r.p = q
		provision(&cfg, r)
		validate(&cfg, q)
		for _, e := range q.errs {
			if !relatedToAny(e.Path, p.errs) {
				p.errs = append(p.errs, e)
			}
		}
		p.warns = append(p.warns, q.warns...)
		w, err := p.result()
		return nil, w, err
	}
	check(&cfg, r)
	w, err := p.result()
	if err != nil {
		return nil, w, err
	}
	return &cfg, w, nil
}

// Validate fills in computed defaults (cookie names, redirect ports, site
// names), checks c, and reads the secrets and keys it names — what Load
// does after parsing, for a configuration built in code (start from Default
// and DefaultSite). Errors carry line numbers only if c came from Load.
func (c *Config) Validate(opts ...Option) ([]Warning, error) {
	p := &problems{src: c.src}
	check(c, newResolver(p, opts))
	return p.result()
}

// check is provision -> validate -> resolve, in the manner of Caddy's
// modules: first every default that depends on other fields, then pure
// checks, then the checks that touch files and the environment.
func check(c *Config, r *resolver) {
	provision(c, r)
	validate(c, r.p)
	resolve(c, r)
}

// abs resolves a configured path against the base directory.
func (r *resolver) abs(path string) string {
	if path == "" || r.base == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(r.base, path)
}

// needDir reports an error at key path unless dir is an existing directory.
func (r *resolver) needDir(path, dir string) {
	fi, err := r.fs.Stat(dir)
	switch {
	case err != nil:
		r.p.errf(path, "%s", describeFSErr(err))
	case !fi.IsDir():
		r.p.errf(path, "%s is not a directory", dir)
	}
}

// needFile reports an error at key path unless file exists and is not a
// directory.
func (r *resolver) needFile(path, file string) {
	fi, err := r.fs.Stat(file)
	switch {
	case err != nil:
		r.p.errf(path, "%s", describeFSErr(err))
	case fi.IsDir():
		r.p.errf(path, "%s is a directory, not a file", file)
	}
}

// relatedToAny reports whether key path a is one of the paths of errs, or
// an ancestor or descendant of one.
func relatedToAny(a string, errs []*FieldError) bool {
	for _, e := range errs {
		b := e.Path
		if a == b || within(a, b) || within(b, a) {
			return true
		}
	}
	return false
}

// within reports whether path is below ancestor.
func within(path, ancestor string) bool {
	if ancestor == "" {
		return true
	}
	rest, ok := strings.CutPrefix(path, ancestor)
	return ok && (strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "["))
}

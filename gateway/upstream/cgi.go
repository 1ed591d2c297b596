package upstream

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// CGIConfig configures a CGI backend.
type CGIConfig struct {
	Dir    string // the scripts' directory
	Prefix string // their URL prefix, e.g. "/cgi-bin"
	// Forwarded tells who the client is and whether it came over HTTPS
	// (REMOTE_ADDR, HTTPS), as for a Proxy. Required.
	Forwarded func(*http.Request) (client string, https bool)
	Logger    *slog.Logger // the scripts' stderr, as warnings (nil: slog.Default())
}

// CGI runs the executable files of one directory with net/http/cgi: the
// first path segment below Prefix names the script; names starting with
// a dot, and anything not a regular executable file, are not found.
type CGI struct {
	cfg CGIConfig
	log *slog.Logger
}

// NewCGI returns a CGI backend.
func NewCGI(c CGIConfig) (*CGI, error) {
	if c.Dir == "" || c.Forwarded == nil {
		return nil, errors.New("upstream: CGIConfig needs Dir and Forwarded")
	}
	c.Prefix = strings.TrimSuffix(c.Prefix, "/")
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	return &CGI{cfg: c, log: log}, nil
}

func (c *CGI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(path.Clean(r.URL.Path), c.cfg.Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	rest = strings.TrimPrefix(rest, "/")
	name, _, _ := strings.Cut(rest, "/")
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, ".") {
		http.NotFound(w, r)
		return
	}
	script := filepath.Join(c.cfg.Dir, name)
	fi, err := os.Stat(script)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		http.NotFound(w, r)
		return
	}
	h := &cgi.Handler{
		Path:   script,
		Root:   c.cfg.Prefix + "/" + name,
		Dir:    c.cfg.Dir,
		Logger: slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
		Stderr: stderrLog{c.log, name},
	}
	h.ServeHTTP(w, c.view(r, h))
}

// view makes REMOTE_ADDR and HTTPS say what Forwarded says: behind a
// trusted proxy, the client and transport the proxy reported, never the
// proxy's own connection. net/http/cgi reads them from RemoteAddr and
// TLS; a proxied client's port is unknown, so REMOTE_PORT is left out
// rather than made up.
func (c *CGI) view(r *http.Request, h *cgi.Handler) *http.Request {
	client, https := c.cfg.Forwarded(r)
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err == nil && host == client && https == (r.TLS != nil) {
		return r // the connection's own view
	}
	if https && r.TLS == nil {
		h.Env = append(h.Env, "HTTPS=on")
	}
	v := *r
	v.RemoteAddr = client
	return &v
}

type stderrLog struct {
	log    *slog.Logger
	script string
}

func (l stderrLog) Write(p []byte) (int, error) {
	l.log.Warn("upstream: CGI stderr", "script", l.script, "output", strings.TrimSpace(string(p)))
	return len(p), nil
}

// Static serves the files of dir below the URL prefix.
func Static(dir, prefix string) http.Handler {
	fs := http.FileServer(http.Dir(dir))
	if prefix != "/" {
		fs = http.StripPrefix(strings.TrimSuffix(prefix, "/"), fs)
	}
	return fs
}

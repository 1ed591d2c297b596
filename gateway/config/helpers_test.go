package config

import (
	"encoding/base64"
	"io/fs"
	"strings"
	"testing/fstest"
)

// testBase is the directory test configs live in (a fake file system).
const testBase = "/srv/sessiond"

var (
	testKey1 = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	testKey2 = base64.RawURLEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
)

// testFS holds the files the test configs name, under testBase.
func testFS() mapFS {
	f := func(data string, mode fs.FileMode) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(data), Mode: mode}
	}
	dir := &fstest.MapFile{Mode: fs.ModeDir | 0o755}
	return mapFS{fstest.MapFS{
		"srv/sessiond/users.htpasswd":             f("alice:{SHA}x\n", 0o600),
		"srv/sessiond/tls/cert.pem":               f("cert", 0o644),
		"srv/sessiond/tls/key.pem":                f("key", 0o600),
		"srv/sessiond/secrets/admin-token":        f("0123456789abcdef-admin\n", 0o600),
		"srv/sessiond/secrets/short-token":        f("short\n", 0o600),
		"srv/sessiond/secrets/empty":              f("\n", 0o600),
		"srv/sessiond/secrets/open-token":         f("0123456789abcdef-admin\n", 0o644),
		"srv/sessiond/secrets/pg-dsn":             f("postgres://sessiond:pw@db.internal/sessions\n", 0o600),
		"srv/sessiond/secrets/cookie-keys":        f("# newest first\n"+testKey1+"\n\n"+testKey2+"\n", 0o600),
		"srv/sessiond/secrets/data-keys":          f(testKey2+"\n", 0o600),
		"srv/sessiond/secrets/bad-keys":           f(testKey1+"\nnot*base64\nAAAA\n", 0o600),
		"srv/sessiond/secrets/apache-passphrases": f("secret one\n", 0o600),
		"srv/sessiond/secrets/oidc-client-secret": f("oidc-client-secret-0123\n", 0o600),
		"srv/sessiond/data":                       dir,
		"srv/sessiond/public/index.html":          f("hi", 0o644),
		"srv/sessiond/cgi-bin/shop.cgi":           f("#!/bin/sh", 0o755),
		"srv/sessiond/not-a-dir":                  f("x", 0o644),
		"srv/sessiond/log":                        dir,
		"srv/sessiond/pages/login.html":           f(`<!doctype html><title>Sign in — {{.Site}}</title>{{template "head"}}<h1>ACME sign-in</h1>`, 0o644),
		"srv/sessiond/pages/.login.html.swp":      f("{{", 0o644),
		"srv/sessiond/pages-bad/error.html":       f("<p>{{.Mesage}}</p>", 0o644),
		"srv/sessiond/pages-bad/sessions.html":    f("{{range .Sessions}}", 0o644),
		"srv/sessiond/pages-bad/signin.html":      f("x", 0o644),
	}}
}

// mapFS adapts fstest.MapFS (which wants unrooted paths) to FileSystem.
type mapFS struct{ m fstest.MapFS }

func (f mapFS) ReadFile(name string) ([]byte, error) {
	b, err := f.m.ReadFile(strings.TrimPrefix(name, "/"))
	return b, rooted(err, name)
}

func (f mapFS) ReadDir(name string) ([]fs.DirEntry, error) {
	d, err := f.m.ReadDir(strings.TrimPrefix(name, "/"))
	return d, rooted(err, name)
}

func (f mapFS) Stat(name string) (fs.FileInfo, error) {
	fi, err := f.m.Stat(strings.TrimPrefix(name, "/"))
	return fi, rooted(err, name)
}

// rooted puts the absolute name back into a PathError, as os would report it.
func rooted(err error, name string) error {
	if pe, ok := err.(*fs.PathError); ok {
		pe.Path = name
	}
	return err
}

// testEnv is a fixed environment: the process's own never leaks in.
func testEnv(extra map[string]string) func(string) (string, bool) {
	env := map[string]string{
		"PG_DSN":             "postgres://sessiond@db.internal/sessions",
		"SESSIOND_REDIS_URL": "redis://127.0.0.1:6379/0",
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func testOptions(env map[string]string) []Option {
	return []Option{WithBaseDir(testBase), WithFS(testFS()), WithEnv(testEnv(env))}
}

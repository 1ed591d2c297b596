package config

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"

	"github.com/sessiond/sessiond/internal/seal"
)

// Secret is a credential of the configuration (admin token, database DSN,
// Redis URL). Its value is reachable only through Reveal: String, fmt's %v,
// slog and encoding all show "[redacted]", so a Config can be logged or
// dumped as JSON without leaking it.
type Secret struct {
	value  string
	source string
}

// NewSecret makes a Secret for a configuration built in code; source says
// where the value came from ("env X", "file /path", "inline").
func NewSecret(value, source string) Secret { return Secret{value: value, source: source} }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s.value != "" }

// Source tells where the value came from: "inline", "file PATH" or
// "env NAME" (never the value).
func (s Secret) Source() string { return s.source }

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string {
	if !s.IsSet() {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return "config.Secret(" + s.String() + ")" }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler (JSON, YAML) without the
// value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: a secret written
// inline in the config file.
func (s *Secret) UnmarshalText(b []byte) error {
	*s = Secret{value: string(b), source: "inline"}
	return nil
}

// secretSpec describes one secret that may come inline, from a file or
// from an environment variable; exactly one source must give a value. With
// envIsFallback the variable is used only when neither inline nor file is
// set (the admin token's SESSIOND_ADMIN_TOKEN), rather than being a third
// explicit choice.
type secretSpec struct {
	path          string // key path of the group, e.g. "store.postgres"
	inlineKey     string // e.g. "dsn"
	fileKey       string // e.g. "dsn_file"
	envKey        string // e.g. "dsn_env"
	inline        *Secret
	file          string
	env           string
	envIsFallback bool
	what          string // "the admin token"
	minLen        int
	// sensitive tells whether an inline value is worth a warning (a DSN
	// without a password is not); nil: always.
	sensitive func(string) bool
}

// resolveSecret fills spec.inline from the chosen source.
func (r *resolver) resolveSecret(spec secretSpec) {
	p := r.p
	if spec.inline.IsSet() && spec.inline.source != "inline" {
		// Set in code (NewSecret), or resolved by an earlier Load or
		// Validate: keep it.
		if spec.minLen > 0 && len(spec.inline.Reveal()) < spec.minLen {
			p.errf(spec.path, "%s is shorter than %d characters", spec.what, spec.minLen)
		}
		return
	}
	var chosen []string
	if spec.inline.IsSet() {
		chosen = append(chosen, spec.inlineKey)
	}
	if spec.file != "" {
		chosen = append(chosen, spec.fileKey)
	}
	if spec.env != "" && !spec.envIsFallback {
		chosen = append(chosen, spec.envKey)
	}
	if len(chosen) > 1 {
		p.errf(join(spec.path, chosen[1]), "set only one of %s, %s and %s (found %s)", spec.inlineKey, spec.fileKey, spec.envKey, andList(chosen))
		return
	}
	switch {
	case spec.inline.IsSet():
		if spec.sensitive != nil && !spec.sensitive(spec.inline.Reveal()) {
			break
		}
		p.warnf(join(spec.path, spec.inlineKey), "%s is written in the config file; prefer %s or %s so the file can be shared", spec.what, spec.fileKey, spec.envKey)
	case spec.file != "":
		data, err := r.fs.ReadFile(spec.file)
		if err != nil {
			p.errf(join(spec.path, spec.fileKey), "cannot read %s: %v", spec.what, describeFSErr(err))
			return
		}
		r.checkPrivate(join(spec.path, spec.fileKey), spec.file)
		*spec.inline = Secret{value: strings.TrimSpace(string(data)), source: "file " + spec.file}
		if !spec.inline.IsSet() {
			p.errf(join(spec.path, spec.fileKey), "%s is empty", spec.file)
			return
		}
	case spec.env != "":
		v, ok := r.env(spec.env)
		if !ok || v == "" {
			if spec.envIsFallback {
				p.errf(spec.path, "%s is missing: set %s, %s, or the environment variable %s", spec.what, spec.fileKey, spec.inlineKey, spec.env)
			} else {
				p.errf(join(spec.path, spec.envKey), "the environment variable %s is not set", spec.env)
			}
			return
		}
		*spec.inline = Secret{value: v, source: "env " + spec.env}
	default:
		p.errf(spec.path, "%s is missing: set one of %s, %s or %s", spec.what, spec.inlineKey, spec.fileKey, spec.envKey)
		return
	}
	if spec.minLen > 0 && len(spec.inline.Reveal()) < spec.minLen {
		p.errf(spec.path, "%s is shorter than %d characters", spec.what, spec.minLen)
	}
}

// checkPrivate warns when a secret file can be read by group or others.
func (r *resolver) checkPrivate(path, file string) {
	fi, err := r.fs.Stat(file)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	r.p.warnf(path, "%s is readable by other users (mode %04o); chmod 600 it", file, fi.Mode().Perm())
}

// KeySize is the length of every key in a key file.
const KeySize = seal.KeySize

// ParseKeys reads a key file named name with the parser `sessiond cookie
// decode` and the stores use: one key per line, 64 hex digits or base64
// of KeySize bytes (std or URL alphabet, padding optional), current key
// first, blank lines and '#' comments ignored. Errors name the file and
// the line, never the key.
func ParseKeys(name string, data []byte) ([][]byte, error) {
	keys, err := seal.ParseKeys(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return keys, nil
}

// resolveKeys loads a key ring's file.
func (r *resolver) resolveKeys(path string, kr *KeyRing) {
	if kr.KeysFile == "" {
		r.p.errf(path, "keys_file is required (one key of %d bytes per line, base64 or hex)", KeySize)
		return
	}
	data, err := r.fs.ReadFile(kr.KeysFile)
	if err != nil {
		r.p.errf(join(path, "keys_file"), "cannot read keys: %v", describeFSErr(err))
		return
	}
	r.checkPrivate(join(path, "keys_file"), kr.KeysFile)
	keys, err := ParseKeys(kr.KeysFile, data)
	if err != nil {
		r.p.errf(join(path, "keys_file"), "%v", err)
		return
	}
	kr.Keys = keys
}

// urlHasPassword reports whether a URL-form DSN carries a password.
func urlHasPassword(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return strings.Contains(strings.ToLower(s), "password=")
	}
	_, ok := u.User.Password()
	return ok || strings.Contains(strings.ToLower(u.RawQuery), "password=")
}

// describeFSErr shortens an fs error to its cause and path.
func describeFSErr(err error) string {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

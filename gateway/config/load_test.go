package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
)

const minimal = `
listen:
  https: {dev_tls: true}
sites:
  - hosts: [Shop.Localhost.]
    upstream: http://127.0.0.1:9000
`

func mustLoad(t *testing.T, src string, env map[string]string) (*Config, []Warning) {
	t.Helper()
	cfg, warns, err := Load("test.yaml", []byte(src), testOptions(env)...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg, warns
}

// TestDefaults checks every default a minimal file gets, global and per
// site, including the computed ones.
func TestDefaults(t *testing.T) {
	cfg, warns := mustLoad(t, minimal, nil)
	if len(warns) != 0 {
		t.Fatalf("warnings for the minimal config: %v", warns)
	}
	want := Default()
	want.Listen.HTTPS = HTTPSListener{Addr: DefaultHTTPSAddr, DevTLS: true}
	want.Store.SQLite = &SQLiteStore{Path: testBase + "/sessiond.db"}
	site := DefaultSite()
	site.Name = "shop.localhost"
	site.Hosts = []string{"shop.localhost"}
	site.Upstream = "http://127.0.0.1:9000"
	site.Session.Cookie.Name = "__Host-sid"
	site.Redirects.Overall = secure.Always
	site.Redirects.HTTPSPort = 8443
	site.Redirects.HTTPPort = 8080
	want.Sites = []Site{site}
	if diff := cmp.Diff(want, *cfg, cmpopts.IgnoreUnexported(Config{}, Secret{})); diff != "" {
		t.Fatalf("defaults (-want +got):\n%s", diff)
	}
}

func TestComputedCookieNames(t *testing.T) {
	cases := []struct {
		name, session        string
		wantName, wantSecure string
		wantOverall          secure.Overall
	}{
		{"https-only", `{}`, "__Host-sid", "", secure.Always},
		{"https-only with domain", `{cookie: {domain: .Localhost}}`, "__Secure-sid", "", secure.Always},
		{"https-only with path", `{cookie: {path: /app}}`, "__Secure-sid", "", secure.Always},
		{"mixed", `{mode: mixed}`, "sid", "__Host-ssid", secure.ByRules},
		{"mixed with domain", `{mode: mixed, cookie: {domain: localhost}}`, "sid", "__Secure-ssid", secure.ByRules},
		{"off", `{mode: off}`, "", "", secure.Never},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := mustLoad(t, minimal+"    session: "+tc.session+"\n", nil)
			s := cfg.Sites[0]
			if s.Session.Cookie.Name != tc.wantName || s.Session.Cookie.SecureName != tc.wantSecure || s.Redirects.Overall != tc.wantOverall {
				t.Fatalf("cookie %q / %q, overall %s; want %q / %q, %s", s.Session.Cookie.Name, s.Session.Cookie.SecureName,
					s.Redirects.Overall, tc.wantName, tc.wantSecure, tc.wantOverall)
			}
		})
	}
}

// TestExplicitZeroWins: a key written as zero is not replaced by its
// default.
func TestExplicitZeroWins(t *testing.T) {
	cfg, _ := mustLoad(t, minimal+"    session: {idle_timeout: 0s, rotate_every: 0s, rotate_requests: 100}\n    csrf: {enforce_origin: false}\n", nil)
	ss := cfg.Sites[0].Session
	if ss.IdleTimeout != 0 || ss.RotateEvery != 0 || cfg.Sites[0].CSRF.EnforceOrigin {
		t.Fatalf("explicit zero values replaced by defaults: %+v", ss)
	}
	if ss.AbsoluteTimeout != session.DefaultAbsoluteTimeout {
		t.Fatalf("absent key lost its default: %v", ss.AbsoluteTimeout)
	}
}

// TestDocExample keeps the example in doc.go and testdata/example.yaml the
// same, and checks that it loads without errors or warnings.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "test keeps the two the same):\n//\n")
	if !ok {
		t.Fatal("example block not found in doc.go")
	}
	block, _, _ = strings.Cut(block, "\npackage config")
	var fromDoc strings.Builder
	for line := range strings.SplitSeq(block, "\n") {
		fromDoc.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "//"), "\t") + "\n")
	}
	file, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(file), fromDoc.String()); diff != "" {
		t.Fatalf("doc.go example and testdata/example.yaml differ (-file +doc):\n%s", diff)
	}
	cfg, warns, err := Load("example.yaml", file, testOptions(nil)...)
	if err != nil || len(warns) != 0 {
		t.Fatalf("example: warnings %v, error %v", warns, err)
	}
	if len(cfg.Sites) != 4 || cfg.Store.EncryptAtRest == nil || len(cfg.Store.EncryptAtRest.Keys) != 1 {
		t.Fatalf("example loaded incompletely: %d sites", len(cfg.Sites))
	}
	if got := cfg.Sites[0].Redirects.Rules[4].Selector; got == nil || got.String() != `input[type="password"]` {
		t.Fatalf("form selector not parsed: %v", got)
	}
}

func TestSecretSources(t *testing.T) {
	site := "sites:\n  - hosts: [a.localhost]\n    upstream: http://127.0.0.1:9000\n"
	base := "listen:\n  https: {dev_tls: true}\n"
	cases := []struct {
		name       string
		yaml       string
		env        map[string]string
		get        func(*Config) Secret
		want       string
		wantSource string
		wantWarn   bool
	}{
		{
			name: "admin token from file",
			yaml: base + "  admin: {addr: 127.0.0.1:9090, token_file: secrets/admin-token}\n" + site,
			get:  func(c *Config) Secret { return c.Listen.Admin.Token },
			want: "0123456789abcdef-admin", wantSource: "file " + testBase + "/secrets/admin-token",
		},
		{
			name: "admin token from the default env var",
			yaml: base + "  admin: {addr: 127.0.0.1:9090}\n" + site,
			env:  map[string]string{"SESSIOND_ADMIN_TOKEN": "env-token-0123456789"},
			get:  func(c *Config) Secret { return c.Listen.Admin.Token },
			want: "env-token-0123456789", wantSource: "env SESSIOND_ADMIN_TOKEN",
		},
		{
			name: "admin token from a named env var",
			yaml: base + "  admin: {addr: 127.0.0.1:9090, token_env: MY_TOKEN}\n" + site,
			env:  map[string]string{"MY_TOKEN": "mine-0123456789abc", "SESSIOND_ADMIN_TOKEN": "not this one"},
			get:  func(c *Config) Secret { return c.Listen.Admin.Token },
			want: "mine-0123456789abc", wantSource: "env MY_TOKEN",
		},
		{
			name: "inline admin token warns",
			yaml: base + "  admin: {addr: 127.0.0.1:9090, token: inline-0123456789abc}\n" + site,
			get:  func(c *Config) Secret { return c.Listen.Admin.Token },
			want: "inline-0123456789abc", wantSource: "inline", wantWarn: true,
		},
		{
			name: "postgres DSN from env",
			yaml: base + "store:\n  postgres: {dsn_env: PG_DSN}\n" + site,
			get:  func(c *Config) Secret { return c.Store.Postgres.DSN },
			want: "postgres://sessiond@db.internal/sessions", wantSource: "env PG_DSN",
		},
		{
			name: "postgres DSN from file",
			yaml: base + "store:\n  postgres: {dsn_file: secrets/pg-dsn}\n" + site,
			get:  func(c *Config) Secret { return c.Store.Postgres.DSN },
			want: "postgres://sessiond:pw@db.internal/sessions", wantSource: "file " + testBase + "/secrets/pg-dsn",
		},
		{
			name: "inline DSN without password does not warn",
			yaml: base + "store:\n  postgres: {dsn: \"host=/run/postgresql dbname=sessions\"}\n" + site,
			get:  func(c *Config) Secret { return c.Store.Postgres.DSN },
			want: "host=/run/postgresql dbname=sessions", wantSource: "inline",
		},
		{
			name: "inline DSN with password warns",
			yaml: base + "store:\n  postgres: {dsn: \"host=db password=hunter2\"}\n" + site,
			get:  func(c *Config) Secret { return c.Store.Postgres.DSN },
			want: "host=db password=hunter2", wantSource: "inline", wantWarn: true,
		},
		{
			name: "redis URL from env",
			yaml: base + "store:\n  redis: {url_env: SESSIOND_REDIS_URL}\n" + site,
			get:  func(c *Config) Secret { return c.Store.Redis.URL },
			want: "redis://127.0.0.1:6379/0", wantSource: "env SESSIOND_REDIS_URL",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, warns := mustLoad(t, tc.yaml, tc.env)
			s := tc.get(cfg)
			if s.Reveal() != tc.want || s.Source() != tc.wantSource {
				t.Fatalf("secret from %q; want %q from %q", s.Source(), tc.want, tc.wantSource)
			}
			if (len(warns) > 0) != tc.wantWarn {
				t.Fatalf("warnings %v; want a warning: %v", warns, tc.wantWarn)
			}
			for _, w := range warns {
				if strings.Contains(w.String(), tc.want) {
					t.Fatalf("warning reveals the secret: %s", w)
				}
			}
			// Validating again (as after editing a loaded config) keeps
			// the resolved value and finds nothing new.
			if _, err := cfg.Validate(testOptions(tc.env)...); err != nil {
				t.Fatalf("second Validate: %v", err)
			}
			if again := tc.get(cfg); again.Reveal() != tc.want || again.Source() != tc.wantSource {
				t.Fatalf("second Validate changed the secret's source to %q", again.Source())
			}
		})
	}
}

// TestSecretsNeverShown: errors, fmt, slog and JSON never print a secret.
func TestSecretsNeverShown(t *testing.T) {
	const secret = "hunter2-hunter2-hunter2"
	cfg, _ := mustLoad(t, "listen:\n  https: {dev_tls: true}\n  admin: {addr: 127.0.0.1:9090, token: "+secret+"}\n"+
		"sites:\n  - hosts: [a.localhost]\n    upstream: http://127.0.0.1:9000\n", nil)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "admin", cfg.Listen.Admin, "token", cfg.Listen.Admin.Token)
	js, _ := json.Marshal(cfg)
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", cfg),
		"%+v":  fmt.Sprintf("%+v", *cfg),
		"%#v":  fmt.Sprintf("%#v", cfg.Listen.Admin),
		"slog": logs.String(),
		"json": string(js),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, secret) {
				t.Fatalf("secret visible in %s output: %s", name, out)
			}
		})
	}
	_, _, err := Load("x.yaml", []byte("listen:\n  admin: {token: [a]}\n  https: {token: "+secret+"}\n"), testOptions(nil)...)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error shows the secret or is missing: %v", err)
	}
}

// TestLoadFileRelativePaths uses the real file system: paths in the file
// are relative to its directory.
func TestLoadFileRelativePaths(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "users.htpasswd"), []byte("alice:{SHA}x\n"), 0o600)
	os.Mkdir(filepath.Join(dir, "www"), 0o755)
	path := filepath.Join(dir, "sessiond.yaml")
	os.WriteFile(path, []byte(`listen:
  https: {dev_tls: true}
store:
  sqlite: {path: sessions.db}
sites:
  - hosts: [a.localhost]
    static: {dir: www}
    auth: {htpasswd: users.htpasswd}
`), 0o644)
	cfg, _, err := LoadFile(path, WithEnv(testEnv(nil)))
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		cfg.Store.SQLite.Path:      filepath.Join(dir, "sessions.db"),
		cfg.Sites[0].Static.Dir:    filepath.Join(dir, "www"),
		cfg.Sites[0].Auth.Htpasswd: filepath.Join(dir, "users.htpasswd"),
	} {
		if got != want {
			t.Errorf("path %q, want %q", got, want)
		}
	}
	if _, _, err := LoadFile(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	_, _, err := Load("big.yaml", make([]byte, MaxFileSize+1))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

// TestErrorsAllAndSorted: every problem is reported, in line order, each
// as a *FieldError.
func TestErrorsAllAndSorted(t *testing.T) {
	src := "sites:\n  - hosts: [b]\n    upstream: ftp://x\n    session: {grace: 5x}\nlisten:\n  http: {addr: nope}\n  bogus: 1\n"
	_, _, err := Load("s.yaml", []byte(src), testOptions(nil)...)
	errs := Errors(err)
	var lines []int
	for _, e := range errs {
		lines = append(lines, e.Line)
	}
	// Decoding errors (4, 7) and validation errors (3, 4, 6) together.
	if diff := cmp.Diff([]int{3, 4, 4, 6, 7}, lines); diff != "" {
		t.Fatalf("decode errors (-want +got):\n%s\n%v", diff, err)
	}
	// Without decoding errors too, all at once, sorted.
	src = "sites:\n  - hosts: [b]\n    upstream: ftp://x\nlisten:\n  http: {addr: nope}\n"
	_, _, err = Load("s.yaml", []byte(src), testOptions(nil)...)
	lines = nil
	for _, e := range Errors(err) {
		lines = append(lines, e.Line)
	}
	if diff := cmp.Diff([]int{2, 3, 5}, lines); diff != "" {
		t.Fatalf("validation errors (-want +got):\n%s\n%v", diff, err)
	}
}

// TestValidateInCode builds a configuration from Default and DefaultSite:
// no line numbers, same checks.
func TestValidateInCode(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"valid", func(c *Config) {}, ""},
		{"no hosts", func(c *Config) { c.Sites[0].Hosts = nil }, "sites[0].hosts: at least one host name is required"},
		{"bad enum", func(c *Config) { c.Sites[0].Session.Mode = "bogus" }, `sites[0].session.mode: "bogus" is not one of https-only, mixed, off`},
		{"zero means default", func(c *Config) { c.Sites[0].Redirects.Status = 0; c.Sites[0].MaxHeaderBytes = 0 }, ""},
		{"missing htpasswd", func(c *Config) { c.Sites[0].Auth.Htpasswd = "nope" }, "sites[0].auth.htpasswd: " + testBase + "/nope: file does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Listen.HTTPS.DevTLS = true
			c.Store.Memory = &MemoryStore{}
			s := DefaultSite()
			s.Hosts = []string{"shop.localhost"}
			s.Upstream = "http://127.0.0.1:9000"
			c.Sites = append(c.Sites, s)
			tc.edit(&c)
			_, err := c.Validate(testOptions(nil)...)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Sites[0].Session.Cookie.Name != "__Host-sid" || c.Sites[0].MaxHeaderBytes != DefaultMaxHeaderBytes {
					t.Fatalf("computed defaults missing: %+v", c.Sites[0].Session.Cookie)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("Validate error = %v\nwant %s", err, tc.wantErr)
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	cases := []struct {
		name    string
		data    string
		n       int
		wantErr string
	}{
		{"std and url alphabets, comments", "# k\n" + testKey1 + "\n\n  " + testKey2 + "  \n", 2, ""},
		{"unpadded std", strings.TrimRight(testKey1, "="), 1, ""},
		{"hex, as cookie decode reads it", strings.Repeat("0f", KeySize), 1, ""},
		{"key listed twice", testKey1 + "\n" + testKey1 + "\n", 0, "k: seal: invalid key: line 2 repeats the key on line 1"},
		{"empty", "# nothing\n", 0, "k: seal: invalid key: no key found"},
		{"short key", "AAAA\n", 0, "k: seal: invalid key: line 1: 4 characters; want 64 hex digits or 43/44 base64"},
		{"bad base64", testKey1 + "\n*\n", 0, "k: seal: invalid key: line 2: 1 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseKeys("k", []byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(keys) != tc.n {
				t.Fatalf("%d keys, %v", len(keys), err)
			}
			for _, k := range keys {
				if len(k) != KeySize {
					t.Fatalf("key of %d bytes", len(k))
				}
			}
		})
	}
}

// TestKeyFileOneParser: serve (this package) and `sessiond cookie decode`
// (cookie.ReadKeyFile) read a key file alike, in every form the docs
// name: hex, standard and URL base64, padded or not, with comments.
func TestKeyFileOneParser(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	text := "# newest first\n" + strings.Repeat("ab", KeySize) + "\n" + testKey1 + "\n\n" + testKey2 + "\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	served, err := ParseKeys(file, []byte(text))
	if err != nil {
		t.Fatalf("serve refuses the key file: %v", err)
	}
	decoded, err := cookie.ReadKeyFile(file)
	if err != nil {
		t.Fatalf("cookie decode refuses the key file: %v", err)
	}
	if len(served) != 3 || !cmp.Equal(served, decoded) {
		t.Fatalf("serve read %d keys, cookie decode %d, or different ones", len(served), len(decoded))
	}
}

// TestInspectKey: the site key for the session inspector header (off by
// default).
func TestInspectKey(t *testing.T) {
	cfg, _ := mustLoad(t, minimal, nil)
	if cfg.Sites[0].Inspect {
		t.Fatal("inspect is on by default")
	}
	cfg, _ = mustLoad(t, minimal+"    inspect: true\n", nil)
	if !cfg.Sites[0].Inspect {
		t.Fatal("inspect: true not read")
	}
}

// TestSessionLock: session.lock reaches the site's session settings, and a
// cookie store (no record to lock) refuses it, naming the key.
func TestSessionLock(t *testing.T) {
	cfg, _ := mustLoad(t, minimal+"    session: {lock: true}\n", nil)
	if !cfg.Sites[0].Session.Lock {
		t.Fatal("session.lock: true not decoded")
	}
	if cfg, _ := mustLoad(t, minimal, nil); cfg.Sites[0].Session.Lock {
		t.Fatal("session.lock is on by default")
	}
	_, _, err := Load("test.yaml", []byte(minimal+"    session: {lock: true}\nstore:\n  cookie: {keys_file: /dev/null}\n"), testOptions(nil)...)
	if err == nil || !strings.Contains(err.Error(), "session.lock") {
		t.Fatalf("lock with the cookie store: %v, want an error naming session.lock", err)
	}
}

// TestHSTSDefault: an https-only site sends HSTS for a year unless the
// file says otherwise or the certificate is a development one.
func TestHSTSDefault(t *testing.T) {
	real := strings.Replace(minimal, "dev_tls: true", "cert_file: tls/cert.pem, key_file: tls/key.pem", 1)
	if real == minimal {
		t.Fatal("the minimal config changed; adapt this test")
	}
	for _, tc := range []struct {
		name, src string
		want      time.Duration
	}{
		{"https-only", real, DefaultHSTSMaxAge},
		{"dev_tls", minimal, 0},
		{"explicit zero", real + "    redirects: {hsts: {max_age: 0s}}\n", 0},
		{"explicit", real + "    redirects: {hsts: {max_age: 1h}}\n", time.Hour},
		{"mixed", real + "    session: {mode: mixed}\n", 0},
		{"sessions off", real + "    session: {mode: off}\n", 0},
	} {
		cfg, _ := mustLoad(t, tc.src, nil)
		if got := cfg.Sites[0].Redirects.HSTS.MaxAge; got != tc.want {
			t.Errorf("%s: hsts.max_age = %v, want %v", tc.name, got, tc.want)
		}
	}
}

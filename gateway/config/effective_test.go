package config

import (
	"encoding"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/secure"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

// TestEffective renders, for every testdata/*.yaml that loads, the
// configuration the gateway runs: the resolved file (defaults filled in,
// secrets redacted) and each site's library configurations — session.Config
// after package session's own defaults, secure.Config — and compares it
// with testdata/NAME.effective. Run with -update to rewrite them, then
// review the diff: a changed default shows up here.
func TestEffective(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		golden := strings.TrimSuffix(file, ".yaml") + ".effective"
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := Load(filepath.Base(file), data, testOptions(nil)...)
			if err != nil {
				if _, serr := os.Stat(golden); serr == nil {
					t.Errorf("%s exists, but the file does not load: %v", golden, err)
				}
				return
			}
			checkGolden(t, golden, effective(t, cfg))
		})
	}
}

// effective renders cfg and its sites' library configurations.
func effective(t *testing.T, cfg *Config) string {
	var b strings.Builder
	b.WriteString("# the resolved configuration\n")
	dump(&b, "", reflect.ValueOf(*cfg))
	store := memory.New(memory.Config{SweepInterval: -1})
	defer store.Close()
	for i := range cfg.Sites {
		s := &cfg.Sites[i]
		fmt.Fprintf(&b, "\n# sites[%d] (%s) runs\n", i, s.Name)
		if sc, ok := s.SessionConfig(); ok {
			// What session.New makes of it: the library's defaults applied.
			sc.Store = store
			sc.TrustedProxies, sc.UnknownIDLimit = cfg.Prefixes(), cfg.Limits.UnknownIDs.PerMinute()
			sc.HTTPSURL = func(*http.Request) string { return "" }
			m, err := session.New(sc)
			if err != nil {
				t.Fatalf("sites[%d]: session.New: %v", i, err)
			}
			dump(&b, "session.Config", reflect.ValueOf(m.Config()))
		} else {
			b.WriteString("session.Config: (sessions off)\n")
		}
		sec := s.SecureConfig()
		if _, err := secure.New(sec); err != nil {
			t.Fatalf("sites[%d]: secure.New: %v", i, err)
		}
		dump(&b, "secure.Config", reflect.ValueOf(sec))
	}
	return b.String()
}

var (
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	keysType      = reflect.TypeFor[[][]byte]()
	sameSiteNames = map[http.SameSite]string{http.SameSiteDefaultMode: "default", http.SameSiteLaxMode: "lax",
		http.SameSiteStrictMode: "strict", http.SameSiteNoneMode: "none"}
)

// dump writes one "key: value" line per field of v, named by their Go
// fields. Functions and interfaces (stores, loggers, hooks) are left out,
// as are pointers outside this package and package secure (the parsed
// form selectors); key material is counted, never
// shown, and Secret prints itself redacted.
func dump(b *strings.Builder, key string, v reflect.Value) {
	t := v.Type()
	switch {
	case t == keysType:
		fmt.Fprintf(b, "%s: (%d keys, redacted)\n", key, v.Len())
		return
	case t == durationType:
		fmt.Fprintf(b, "%s: %v\n", key, time.Duration(v.Int()))
		return
	case t == reflect.TypeFor[http.SameSite]():
		fmt.Fprintf(b, "%s: %s\n", key, sameSiteNames[http.SameSite(v.Int())])
		return
	case t.Implements(textMarshaler):
		text, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			text = []byte(err.Error())
		}
		fmt.Fprintf(b, "%s: %s\n", key, text)
		return
	}
	switch v.Kind() {
	case reflect.Func, reflect.Interface, reflect.Chan:
	case reflect.Pointer:
		if pkg := t.Elem().PkgPath(); !v.IsNil() && (pkg == reflect.TypeFor[Config]().PkgPath() || pkg == reflect.TypeFor[secure.Selector]().PkgPath()) {
			dump(b, key, v.Elem())
		}
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				name := f.Name
				if key != "" {
					name = key + "." + f.Name
				}
				dump(b, name, v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			fmt.Fprintf(b, "%s: []\n", key)
		}
		for i := range v.Len() {
			dump(b, fmt.Sprintf("%s[%d]", key, i), v.Index(i))
		}
	case reflect.String:
		fmt.Fprintf(b, "%s: %q\n", key, v.String())
	default:
		fmt.Fprintf(b, "%s: %v\n", key, v.Interface())
	}
}

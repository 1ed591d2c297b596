package config

import (
	"strings"
	"testing"
)

// Sites share sessions only when each names the realm, and never across
// modes; the cookie store gets a revocation list by default.
func TestRealms(t *testing.T) {
	site := func(name, realm, mode string) string {
		s := "  - name: " + name + "\n    hosts: [" + name + ".localhost]\n    upstream: http://127.0.0.1:9000\n"
		if realm != "" {
			s += "    realm: " + realm + "\n"
		}
		return s + "    session: {mode: " + mode + "}\n"
	}
	head := "listen:\n  https: {dev_tls: true}\nsites:\n"
	for _, tc := range []struct {
		name, sites, wantErr string
	}{
		{"isolated by default", site("shop", "", "mixed") + site("outlet", "", "https-only"), ""},
		{"shared explicitly", site("www", "example", "mixed") + site("shop", "example", "mixed"), ""},
		{"one side implicit", site("www", "", "mixed") + site("shop", "www", "mixed"),
			`sites[0].realm: the site's realm defaults to its name "www", which another site (sites[1]) uses`},
		{"https-only and mixed", site("www", "example", "https-only") + site("shop", "example", "mixed"),
			`sites[1].realm: realm "example" is shared by a https-only site (sites[0]) and a mixed site`},
		{"control character", site("www", `"a\tb"`, "mixed"), `sites[0].realm: "a\tb": at most 255 bytes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load("test.yaml", []byte(head+tc.sites), testOptions(nil)...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}

	cfg, _ := mustLoad(t, head+site("shop", "", "https-only")+"store:\n  cookie: {keys_file: secrets/cookie-keys}\n", nil)
	if cfg.Store.Revocations == nil || cfg.Store.Revocations.Path != testBase+"/"+DefaultRevocationsPath {
		t.Fatalf("cookie store without a revocation list by default: %+v", cfg.Store.Revocations)
	}
	if cfg.Sites[0].EffectiveRealm() != "shop" {
		t.Fatalf("default realm %q, want the site's name", cfg.Sites[0].EffectiveRealm())
	}
	cfg, _ = mustLoad(t, head+site("shop", "", "https-only")+
		"store:\n  cookie: {keys_file: secrets/cookie-keys}\n  revocations: {redis: {url_env: REV_URL}}\n",
		map[string]string{"REV_URL": "redis://127.0.0.1:6379/3"})
	if rv := cfg.Store.Revocations; rv.Path != "" || rv.Redis == nil || rv.Redis.URL.Reveal() != "redis://127.0.0.1:6379/3" {
		t.Fatalf("revocations in Redis: %+v", rv)
	}
	_, _, err := Load("test.yaml", []byte(head+site("shop", "", "https-only")+"store:\n  revocations: {path: r.db}\n"), testOptions(nil)...)
	if err == nil || !strings.Contains(err.Error(), "store.revocations: only the cookie store") {
		t.Fatalf("revocations without the cookie store: %v", err)
	}
}

func TestRevocationsEitherPathOrRedis(t *testing.T) {
	src := "listen:\n  https: {dev_tls: true}\nstore:\n  cookie: {keys_file: secrets/cookie-keys}\n" +
		"  revocations: {path: r.db, redis: {url: \"redis://127.0.0.1/1\"}}\nsites:\n  - {hosts: [a.localhost], upstream: \"http://127.0.0.1:9\"}\n"
	if _, _, err := Load("test.yaml", []byte(src), testOptions(nil)...); err == nil || !strings.Contains(err.Error(), "choose one of path (SQLite) and redis") {
		t.Fatalf("both path and redis: %v", err)
	}
}

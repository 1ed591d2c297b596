package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/store/certkv"
)

// TestCertStoreOfEachStore: certificates live where the store keeps its
// data, on the kit's connections — the SQLite file, the cookie store's
// revocation list (its SQLite file or its Redis) — so that a second
// gateway (or a restart) opening the same store finds them; check-config
// creates no file.
func TestCertStoreOfEachStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cookieKeys := &config.KeyRing{Keys: [][]byte{randomBytes(32)}}
	cases := []struct {
		name string
		sc   func(t *testing.T) config.Store
	}{
		{"sqlite", func(*testing.T) config.Store {
			return config.Store{SQLite: &config.SQLiteStore{Path: filepath.Join(dir, "sessions.db")}}
		}},
		{"cookie with an SQLite revocation list", func(*testing.T) config.Store {
			return config.Store{Cookie: cookieKeys, Revocations: &config.Revocations{Path: filepath.Join(dir, "revoked.db")}}
		}},
		{"cookie with a Redis revocation list", func(t *testing.T) config.Store {
			return config.Store{Cookie: cookieKeys, Revocations: &config.Revocations{
				Redis: &config.RedisStore{URL: config.NewSecret(testenv.RedisURL(t), "test")}}}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := c.sc(t)
			key := "certificates/test/" + token.Ref() + ".crt"
			a := openKitCerts(t, sc, false)
			if err := a.Store(ctx, key, []byte("pem")); err != nil {
				t.Fatal(err)
			}
			defer a.Delete(ctx, key)
			b := openKitCerts(t, sc, false)
			if v, err := b.Load(ctx, key); err != nil || string(v) != "pem" {
				t.Fatalf("a second opening of the store loads %q, %v", v, err)
			}
		})
	}
	t.Run("check creates no file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sessions.db")
		openKitCerts(t, config.Store{SQLite: &config.SQLiteStore{Path: path}}, true)
		if matches, _ := filepath.Glob(path + "*"); len(matches) != 0 {
			t.Fatalf("check mode created %q", matches)
		}
	})
}

// openKitCerts opens the kit of sc, closed at the end of the test, and
// returns its certificate store.
func openKitCerts(t *testing.T, sc config.Store, check bool) certkv.KV {
	t.Helper()
	ctx := context.Background()
	k, err := openKit(ctx, sc, slog.New(slog.DiscardHandler), check)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.close() })
	kv, err := k.certs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// A reload keeps the ACME manager exactly when it keeps the store's kit
// and the ACME settings, and never closes a kit under a running manager:
// a manager left behind by a reload ends with its generation while the
// kit lives on with the next one; a new store gets a new kit and a new
// manager, and the old pair ends together.
func TestACMEKeptWithItsKit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	load := func(email, db string) *config.Config {
		t.Helper()
		yaml := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:18080"}
  https:
    addr: "127.0.0.1:18443"
    acme: {email: %s, ca: "https://127.0.0.1:1/dir", challenges: [tls-alpn-01]}
store:
  sqlite: {path: %s}
sites:
  - hosts: [app.example.test]
    upstream: http://127.0.0.1:9
`, email, filepath.Join(dir, db))
		cfg, _, err := config.Load("sessiond.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	reload := func(cfg *config.Config, old *provisioned) *provisioned {
		t.Helper()
		p, err := provision(ctx, cfg, provisionOptions{log: quiet, reuse: old}, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if old != nil {
			adoptACME(old, p)
			old.close() // the replaced generation retires
		}
		return p
	}
	// works: the generation's certificate store answers (its kit is open).
	works := func(p *provisioned) {
		t.Helper()
		if p.acme == nil || p.acme.kit != p.kit || !p.ownsACME {
			t.Fatalf("the generation's manager: %+v, kit %p, owned %v", p.acme, p.kit, p.ownsACME)
		}
		kv := kitCerts(t, p.acme.kit)
		if err := kv.Store(ctx, "certificates/test/x", []byte("pem")); err != nil {
			t.Fatalf("the running manager's certificate store: %v", err)
		}
		if _, err := kv.Load(ctx, "certificates/test/x"); err != nil {
			t.Fatalf("the running manager's certificate store: %v", err)
		}
	}

	p1 := reload(load("a@example.test", "one.db"), nil)
	works(p1)
	p2 := reload(load("a@example.test", "one.db"), p1)
	if p2.acme != p1.acme || p2.kit != p1.kit {
		t.Fatal("a reload with the same store and settings replaced the manager or the kit")
	}
	works(p2)
	p3 := reload(load("b@example.test", "one.db"), p2)
	if p3.acme == p2.acme || p3.kit != p2.kit {
		t.Fatal("new ACME settings: want a new manager on the same kit")
	}
	works(p3)
	p4 := reload(load("b@example.test", "two.db"), p3)
	if p4.acme == p3.acme || p4.kit == p3.kit {
		t.Fatal("a new store: want a new kit and a new manager")
	}
	works(p4)
	if _, err := kitCerts(t, p3.kit).Load(ctx, "certificates/test/x"); err == nil {
		t.Error("the replaced store's kit is still open after its generation retired")
	}
	p4.close()
}

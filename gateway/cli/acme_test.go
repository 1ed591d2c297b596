package cli

import (
	"context"
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

package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/internal/testenv"
	rememberstoretest "github.com/sessiond/sessiond/remember/storetest"
)

// freshPostgres returns a DSN whose tables land in a schema of their own.
func freshPostgres(t *testing.T) string {
	t.Helper()
	raw := testenv.PostgresURL(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	schema := "kit_" + hex.EncodeToString(randomBytes(6))
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, raw)
		if err == nil {
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Two gateways on one configured store (two kits: two processes) share
// the gateway's state and remember-me keys: a claim made at one is a
// replay at the other, the device-cookie secret is the same, a key stored
// by one is found by the other; a restart (a new kit) keeps them all. With
// the cookie store they live beside its revocation list.
func TestKitSharedByGateways(t *testing.T) {
	cookieKeys := [][]byte{randomBytes(32)}
	cases := []struct {
		name  string
		store func(t *testing.T) config.Store
	}{
		{"sqlite", func(t *testing.T) config.Store {
			return config.Store{SQLite: &config.SQLiteStore{Path: filepath.Join(t.TempDir(), "s.db")}}
		}},
		{"sqlite-encrypted", func(t *testing.T) config.Store {
			return config.Store{SQLite: &config.SQLiteStore{Path: filepath.Join(t.TempDir(), "s.db")},
				EncryptAtRest: &config.KeyRing{Keys: cookieKeys}}
		}},
		{"cookie-sqlite", func(t *testing.T) config.Store {
			return config.Store{Cookie: &config.KeyRing{Keys: cookieKeys},
				Revocations: &config.Revocations{Path: filepath.Join(t.TempDir(), "rev.db")}}
		}},
		{"cookie-redis", func(t *testing.T) config.Store {
			return config.Store{Cookie: &config.KeyRing{Keys: cookieKeys},
				Revocations: &config.Revocations{Redis: &config.RedisStore{URL: config.NewSecret(testenv.RedisURL(t), "test")}}}
		}},
		{"redis", func(t *testing.T) config.Store {
			return config.Store{Redis: &config.RedisStore{URL: config.NewSecret(testenv.RedisURL(t), "test")}}
		}},
		{"postgres", func(t *testing.T) config.Store {
			return config.Store{Postgres: &config.PostgresStore{DSN: config.NewSecret(freshPostgres(t), "test")}}
		}},
	}
	quiet := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := tc.store(t)
			open := func() *kit {
				k, err := openKit(ctx, sc, quiet, false)
				if err != nil {
					t.Fatal(err)
				}
				return k
			}
			a, b := open(), open()
			defer b.close()
			if (a.store == nil) == (a.codec == nil) {
				t.Fatalf("kit has store %v and codec %v; want exactly one", a.store, a.codec)
			}
			claim := "modcrypto:" + hex.EncodeToString(randomBytes(16))
			if first, err := a.state.Claim(ctx, claim, time.Now().Add(time.Hour)); err != nil || !first {
				t.Fatalf("first claim = %v, %v", first, err)
			}
			if first, err := b.state.Claim(ctx, claim, time.Now().Add(time.Hour)); err != nil || first {
				t.Fatalf("replay at the other gateway = %v, %v; want false, nil", first, err)
			}
			ka, err := a.state.Secret(ctx, "device-cookie")
			if err != nil {
				t.Fatal(err)
			}
			if kb, err := b.state.Secret(ctx, "device-cookie"); err != nil || !bytes.Equal(ka, kb) {
				t.Fatalf("device-cookie secrets differ between gateways: %x, %x (%v)", ka, kb, err)
			}
			ra, err := a.remember(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rec := rememberstoretest.Rec("alice", time.Now(), time.Hour)
			if err := ra.Create(ctx, rec); err != nil {
				t.Fatal(err)
			}
			rb, err := b.remember(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := rb.Lookup(ctx, rec.Selector); err != nil || got.User != "alice" {
				t.Fatalf("remember-me key at the other gateway: %+v, %v", got, err)
			}

			a.close()
			c := open() // a restart
			defer c.close()
			if kc, err := c.state.Secret(ctx, "device-cookie"); err != nil || !bytes.Equal(ka, kc) {
				t.Fatalf("device-cookie secret after a restart: %x, %v; want %x", kc, err, ka)
			}
			if first, err := c.state.Claim(ctx, claim, time.Now().Add(time.Hour)); err != nil || first {
				t.Fatalf("replay after a restart = %v, %v; want false, nil", first, err)
			}
		})
	}
}

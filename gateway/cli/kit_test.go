package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/internal/testenv"
	rememberstoretest "github.com/sessiond/sessiond/remember/storetest"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/certkv"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Two gateways on one configured store (two kits: two processes) share
// the gateway's state and remember-me keys: a claim made at one is a
// replay at the other, the device-cookie secret is the same, a key stored
// by one is found by the other, and so is a certificate (and its lock); a
// restart (a new kit) keeps them all. With
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
			return config.Store{Postgres: &config.PostgresStore{DSN: config.NewSecret(testenv.PostgresSchema(t), "test")}}
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

			certKey := "certificates/test/" + hex.EncodeToString(randomBytes(8)) + ".key"
			pem := []byte("-----BEGIN EC PRIVATE KEY-----\n...")
			ca, cb := kitCerts(t, a), kitCerts(t, b)
			if err := ca.Store(ctx, certKey, pem); err != nil {
				t.Fatal(err)
			}
			defer cb.Delete(ctx, certKey)
			if v, err := cb.Load(ctx, certKey); err != nil || !bytes.Equal(v, pem) {
				t.Fatalf("certificate at the other gateway: %q, %v", v, err)
			}
			lock := "issue_cert_" + certKey
			if ok, err := ca.Lock(ctx, lock, "a", time.Minute); !ok || err != nil {
				t.Fatalf("Lock = %v, %v", ok, err)
			}
			defer ca.Unlock(ctx, lock, "a")
			if ok, err := cb.Lock(ctx, lock, "b", time.Minute); ok || err != nil {
				t.Fatalf("the other gateway took a held certificate lock: %v, %v", ok, err)
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
			if v, err := kitCerts(t, c).Load(ctx, certKey); err != nil || !bytes.Equal(v, pem) {
				t.Fatalf("certificate after a restart: %q, %v", v, err)
			}
		})
	}
}

// kitCerts is k's certificate store.
func kitCerts(t *testing.T, k *kit) certkv.KV {
	t.Helper()
	kv, err := k.certs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// One Redis URL is one client: the sessions (or the cookie store's
// revocation list), claims, secrets, remember-me keys and certificates of
// a kit all go through it. A go-redis client has two pools, for commands
// and for pipelines (MULTI/EXEC): with one connection each, the server
// sees at most two connections under the URL's client name, whatever the
// kit did; a second client doing any of it would open more.
func TestKitOneRedisClient(t *testing.T) {
	raw := testenv.RedisURL(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		store func(url string) config.Store
	}{
		{"redis", func(url string) config.Store {
			return config.Store{Redis: &config.RedisStore{URL: config.NewSecret(url, "test")}}
		}},
		{"cookie-redis", func(url string) config.Store {
			return config.Store{Cookie: &config.KeyRing{Keys: [][]byte{randomBytes(32)}},
				Revocations: &config.Revocations{Redis: &config.RedisStore{URL: config.NewSecret(url, "test")}}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "sessiond-kit-" + hex.EncodeToString(randomBytes(6))
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			q.Set("client_name", name)
			q.Set("pool_size", "1")
			q.Set("pipeline_pool_size", "1")
			u.RawQuery = q.Encode()
			k, err := openKit(ctx, tc.store(u.String()), slog.New(slog.DiscardHandler), false)
			if err != nil {
				t.Fatal(err)
			}
			defer k.close()
			if k.store != nil {
				if _, err := k.store.Load(ctx, session.Hash{}); !errors.Is(err, session.ErrNotFound) {
					t.Fatalf("Load = %v", err)
				}
			}
			if _, err := k.state.Claim(ctx, "kit-test:"+name, time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, err := k.state.Secret(ctx, "kit-test"); err != nil {
				t.Fatal(err)
			}
			rs, err := k.remember(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rs.Lookup(ctx, name); err == nil {
				t.Fatal("a remember-me key that was never stored")
			}
			kv := kitCerts(t, k)
			certKey := "certificates/test/" + name
			if err := kv.Store(ctx, certKey, []byte("pem")); err != nil {
				t.Fatal(err)
			}
			defer kv.Delete(ctx, certKey)
			if _, err := kv.Load(ctx, certKey); err != nil {
				t.Fatal(err)
			}

			o, err := goredis.ParseURL(raw)
			if err != nil {
				t.Fatal(err)
			}
			c := goredis.NewClient(o)
			defer c.Close()
			list, err := c.ClientList(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(list, " name="+name+" "); n < 1 || n > 2 {
				t.Fatalf("the kit holds %d connections to the server with pools of one; want 1 or 2 (one client):\n%s", n, list)
			}
		})
	}
}

// With store.encrypt_at_rest the kit's certificate store is sealed: the
// database holds no private key in the clear (read through a kit without
// encryption, as anyone with the file or the server would), and after a
// key rotation (new key first, old key kept) the certificate still loads.
func TestKitSealsCertificates(t *testing.T) {
	ctx := context.Background()
	pem := []byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkit\n-----END EC PRIVATE KEY-----\n")
	cases := []struct {
		name  string
		store func(t *testing.T) config.Store
	}{
		{"sqlite", func(t *testing.T) config.Store {
			return config.Store{SQLite: &config.SQLiteStore{Path: filepath.Join(t.TempDir(), "s.db")}}
		}},
		{"redis", func(t *testing.T) config.Store {
			return config.Store{Redis: &config.RedisStore{URL: config.NewSecret(testenv.RedisURL(t), "test")}}
		}},
		{"postgres", func(t *testing.T) config.Store {
			return config.Store{Postgres: &config.PostgresStore{DSN: config.NewSecret(testenv.PostgresSchema(t), "test")}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plain := tc.store(t)
			old, cur := randomBytes(32), randomBytes(32)
			open := func(keys ...[]byte) certkv.KV {
				sc := plain
				if keys != nil {
					sc.EncryptAtRest = &config.KeyRing{Keys: keys}
				}
				k, err := openKit(ctx, sc, slog.New(slog.DiscardHandler), false)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { k.close() })
				return kitCerts(t, k)
			}
			key := "certificates/test/" + hex.EncodeToString(randomBytes(8)) + ".key"
			sealed := open(old)
			if err := sealed.Store(ctx, key, pem); err != nil {
				t.Fatal(err)
			}
			defer sealed.Delete(ctx, key)
			raw, err := open().Load(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte("PRIVATE KEY")) || bytes.Contains(raw, []byte("MHcCAQEEIBkit")) {
				t.Fatalf("the store holds the private key in the clear: %q", raw)
			}
			if v, err := open(cur, old).Load(ctx, key); err != nil || !bytes.Equal(v, pem) {
				t.Fatalf("after a key rotation: %q, %v", v, err)
			}
		})
	}
}

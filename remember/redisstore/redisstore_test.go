package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/remember/redisstore"
	"github.com/sessiond/sessiond/remember/storetest"
)

// open returns a store on the test server under a prefix of its own, and
// removes its keys afterwards.
func open(t *testing.T) remember.Store {
	opt, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "test-remember-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, "{"+prefix+"}*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	s, err := redisstore.New(redisstore.Config{Client: c, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

// GC leaves no index entries behind, and keys carry a TTL past their
// expiry so an unswept key does not live forever.
func TestGCCleansIndexesAndKeysExpire(t *testing.T) {
	ctx := context.Background()
	opt, _ := goredis.ParseURL(testenv.RedisURL(t))
	c := goredis.NewClient(opt)
	defer c.Close()
	s, err := redisstore.New(redisstore.Config{Client: c, Prefix: "test-remember-gc"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		keys, _ := c.Keys(ctx, "{test-remember-gc}*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	}()
	now := time.Now().UTC().Truncate(time.Microsecond)
	old := storetest.Rec("alice", now.Add(-2*time.Hour), time.Hour)
	if err := s.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.PTTL(ctx, "{test-remember-gc}:k:"+old.Selector).Result()
	if err != nil || ttl <= 0 || ttl > 24*time.Hour {
		t.Fatalf("key TTL = %v, %v; want a TTL under a day past expiry", ttl, err)
	}
	if n, err := s.GC(ctx, now); err != nil || n != 1 {
		t.Fatalf("GC = %d, %v; want 1", n, err)
	}
	keys, _ := c.Keys(ctx, "{test-remember-gc}*").Result()
	if len(keys) != 0 {
		t.Fatalf("after GC of the only key, left: %v", keys)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	tests := []struct {
		name string
		cfg  redisstore.Config
	}{
		{"no client", redisstore.Config{}},
		{"brace in prefix", redisstore.Config{Client: c, Prefix: "a{b}"}},
		{"space in prefix", redisstore.Config{Client: c, Prefix: "a b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := redisstore.New(tc.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

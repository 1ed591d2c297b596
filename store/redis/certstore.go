package redis

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/store/certkv"
)

// CertStore keeps HTTPS certificates, their keys and the ACME account
// (certkv.KV) under the store's prefix:
//
//	<prefix>{acme}:kv          hash: key -> value
//	<prefix>{acme}:mod         hash: key -> when stored, Unix ms
//	<prefix>{acme}:lock:<name> a lock: its owner, with a TTL
//
// The {acme} hash tag keeps them in one slot of a cluster, so a value and
// its time change in one transaction. Every gateway on the server shares
// them: one orders a certificate under the lock, the others load it.
type CertStore struct {
	client  goredis.UniversalClient
	timeout time.Duration
	kv      string
	mod     string
	lock    string
}

// CertStore returns the store's certificate store, on its client and
// under its timeout.
func (s *Store) CertStore(context.Context) (certkv.KV, error) {
	p := s.prefix + "{acme}:"
	return &CertStore{client: s.client, timeout: s.timeout, kv: p + "kv", mod: p + "mod", lock: p + "lock:"}, nil
}

// op bounds one operation by the store's timeout.
func (c *CertStore) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// Store puts value at key.
func (c *CertStore) Store(ctx context.Context, key string, value []byte) error {
	ctx, cancel := c.op(ctx)
	defer cancel()
	_, err := c.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HSet(ctx, c.kv, key, value)
		p.HSet(ctx, c.mod, key, time.Now().UnixMilli())
		return nil
	})
	return certErr(err)
}

// Load returns the value at key, or fs.ErrNotExist.
func (c *CertStore) Load(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := c.op(ctx)
	defer cancel()
	v, err := c.client.HGet(ctx, c.kv, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis cert store: %s: %w", key, fs.ErrNotExist)
	}
	return v, certErr(err)
}

// Delete removes key.
func (c *CertStore) Delete(ctx context.Context, key string) error {
	ctx, cancel := c.op(ctx)
	defer cancel()
	_, err := c.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HDel(ctx, c.kv, key)
		p.HDel(ctx, c.mod, key)
		return nil
	})
	return certErr(err)
}

// List returns the keys that start with prefix. A gateway keeps a few
// keys per host: HKEYS reads them all.
func (c *CertStore) List(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := c.op(ctx)
	defer cancel()
	all, err := c.client.HKeys(ctx, c.kv).Result()
	if err != nil {
		return nil, certErr(err)
	}
	var keys []string
	for _, k := range all {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// Stat returns the size and time of key's value, or fs.ErrNotExist.
func (c *CertStore) Stat(ctx context.Context, key string) (int64, time.Time, error) {
	ctx, cancel := c.op(ctx)
	defer cancel()
	var size *goredis.IntCmd
	var mod *goredis.StringCmd
	_, err := c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		size = p.HStrLen(ctx, c.kv, key)
		mod = p.HGet(ctx, c.mod, key)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return 0, time.Time{}, certErr(err)
	}
	ms, err := mod.Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, time.Time{}, fmt.Errorf("redis cert store: %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return 0, time.Time{}, certErr(err)
	}
	return size.Val(), time.UnixMilli(ms), nil
}

// lockScript takes or extends a lock: set when free or already the
// owner's; the key's TTL frees it when its holder stops renewing.
var lockScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

// unlockScript deletes a lock only if owner still holds it.
var unlockScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Lock takes name for owner until ttl from now if it is free, expired or
// already owner's.
func (c *CertStore) Lock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	ctx, cancel := c.op(ctx)
	defer cancel()
	n, err := lockScript.Run(ctx, c.client, []string{c.lock + name}, owner, ttl.Milliseconds()).Int()
	return n == 1, certErr(err)
}

// Unlock frees name if owner holds it.
func (c *CertStore) Unlock(ctx context.Context, name, owner string) error {
	ctx, cancel := c.op(ctx)
	defer cancel()
	return certErr(unlockScript.Run(ctx, c.client, []string{c.lock + name}, owner).Err())
}

func certErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redis cert store: %w", err)
}

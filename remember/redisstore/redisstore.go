// Package redisstore keeps remember-me keys (package remember) in Redis,
// beside sessions kept by store/redis, or beside the cookie store's Redis
// revocation list.
//
// Every key of the store carries one hash tag, so each operation is one
// script on one slot: the store works unchanged on Redis Cluster (all
// remember-me keys then live on one node; they are few — one per browser
// that ticked "keep me signed in" — and touched only at logins).
//
// Layout under Config.Prefix (default "sessiond:remember"):
//
//	{P}:k:<selector>  hash: h (validator hash), r (realm), u (user), o (the
//	                  owner's suffix below), c, e, x (created, expires and
//	                  used-at, Unix microseconds; x 0 = unused)
//	{P}:u:<owner>     set of the selectors of one user in one realm; owner
//	                  is <len(realm)>:<realm>:<user>
//	{P}:exp           sorted set of selectors by expiry, for GC
//
// A key hash also carries a Redis TTL a day past its expiry, so keys
// outlive their expiry for GC to count (remember.Store's contract: Lookup
// returns expired keys until GC) but never live forever without one.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/remember"
)

// Config configures a Store.
type Config struct {
	// Client is the caller's client (Close does not close it): a
	// *goredis.Client or a *goredis.ClusterClient. Required.
	Client goredis.UniversalClient
	// Prefix names the store's keys; default "sessiond:remember". Two
	// gateways share keys exactly when they share Prefix and server.
	Prefix string
}

// Store is a remember.Store in Redis. It is safe for concurrent use, also
// across processes sharing the server.
type Store struct {
	c goredis.UniversalClient
	p string // "{prefix}"
}

// New returns a Store on cfg.Client.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("redisstore: Config.Client is required")
	}
	p := cfg.Prefix
	if p == "" {
		p = "sessiond:remember"
	}
	for _, c := range []byte(p) {
		if c == '{' || c == '}' || c < 0x21 || c > 0x7e {
			return nil, fmt.Errorf("redisstore: Config.Prefix %q: only printable ASCII without braces or spaces", cfg.Prefix)
		}
	}
	return &Store{c: cfg.Client, p: "{" + p + "}"}, nil
}

func (s *Store) key(sel string) string         { return s.p + ":k:" + sel }
func (s *Store) user(r remember.Record) string { return s.p + ":u:" + owner(r) }
func (s *Store) exp() string                   { return s.p + ":exp" }

// owner names the realm and user of r unambiguously (a realm may hold ':').
func owner(r remember.Record) string {
	return strconv.Itoa(len(r.Realm)) + ":" + r.Realm + ":" + r.User
}

// keepFor is how long a key outlives its expiry in Redis, for GC to find.
const keepFor = 24 * time.Hour

// put is the shared body of create and consume: store ARGV[a..a+7] as the
// key hash KEYS[k] and index it under KEYS[ki] and the expiry set.
const put = `
local function put(k, ki, a)
  if redis.call('EXISTS', KEYS[k]) == 1 then return false end
  redis.call('HSET', KEYS[k], 'h', ARGV[a], 'u', ARGV[a+1], 'c', ARGV[a+2], 'e', ARGV[a+3], 'x', '0', 'r', ARGV[a+6], 'o', ARGV[a+7])
  redis.call('PEXPIREAT', KEYS[k], ARGV[a+4])
  redis.call('SADD', KEYS[ki], ARGV[a+5])
  redis.call('ZADD', KEYS[3], ARGV[a+3], ARGV[a+5])
  return true
end
`

// create: KEYS = key, user set, exp; ARGV = hash, user, created, expires,
// ttl-at, selector, realm, owner.
var createScript = goredis.NewScript(put + `
if not put(1, 2, 1) then return 'collision' end
return 'ok'
`)

// consume: KEYS = old key, next user set, exp, next key; ARGV = usedAt,
// then next's hash, user, created, expires, ttl-at, selector, realm, owner.
var consumeScript = goredis.NewScript(put + `
local old = redis.call('HMGET', KEYS[1], 'u', 'x', 'o')
if not old[1] then return 'notfound' end
if old[2] ~= '0' then return 'used' end
if old[3] ~= ARGV[9] then return 'otheruser' end
if redis.call('EXISTS', KEYS[4]) == 1 then return 'collision' end
redis.call('HSET', KEYS[1], 'x', ARGV[1])
put(4, 2, 2)
return 'ok'
`)

// del: KEYS = key, exp; ARGV = selector, user-set prefix.
var deleteScript = goredis.NewScript(`
local u = redis.call('HGET', KEYS[1], 'o')
if not u then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[2] .. u, ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)

// deleteUser: KEYS = user set, exp; ARGV = key prefix.
var deleteUserScript = goredis.NewScript(`
local n = 0
for _, sel in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('DEL', ARGV[1] .. sel)
  redis.call('ZREM', KEYS[2], sel)
end
redis.call('DEL', KEYS[1])
return n
`)

// gc: KEYS = exp; ARGV = now (µs), key prefix, user-set prefix, batch.
// It answers {entries looked at, keys deleted}.
var gcScript = goredis.NewScript(`
local n = 0
local sels = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
for _, sel in ipairs(sels) do
  local u = redis.call('HGET', ARGV[2] .. sel, 'o')
  if u then
    n = n + redis.call('DEL', ARGV[2] .. sel)
    redis.call('SREM', ARGV[3] .. u, sel)
  end
  redis.call('ZREM', KEYS[1], sel)
end
return {#sels, n}
`)

func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// recordArgs is a record as put's eight arguments.
func recordArgs(r remember.Record) []any {
	return []any{string(r.Hash[:]), r.User, micros(r.Created), micros(r.Expires),
		strconv.FormatInt(r.Expires.Add(keepFor).UnixMilli(), 10), r.Selector, r.Realm, owner(r)}
}

func fail(op string, err error) error { return fmt.Errorf("redisstore: %s: %w", op, err) }

// Create implements remember.Store.
func (s *Store) Create(ctx context.Context, rec remember.Record) error {
	if !remember.ValidSelector(rec.Selector) {
		return fmt.Errorf("redisstore: create: invalid selector")
	}
	res, err := createScript.Run(ctx, s.c, []string{s.key(rec.Selector), s.user(rec), s.exp()}, recordArgs(rec)...).Text()
	switch {
	case err != nil:
		return fail("create", err)
	case res == "collision":
		return remember.ErrCollision
	}
	return nil
}

// Lookup implements remember.Store.
func (s *Store) Lookup(ctx context.Context, selector string) (remember.Record, error) {
	if !remember.ValidSelector(selector) {
		return remember.Record{}, remember.ErrNotFound
	}
	v, err := s.c.HMGet(ctx, s.key(selector), "h", "u", "c", "e", "x", "r").Result()
	if err != nil {
		return remember.Record{}, fail("lookup", err)
	}
	if v[0] == nil {
		return remember.Record{}, remember.ErrNotFound
	}
	rec := remember.Record{Selector: selector}
	h, _ := v[0].(string)
	rec.User, _ = v[1].(string)
	rec.Realm, _ = v[5].(string)
	if len(h) != len(rec.Hash) {
		return remember.Record{}, fail("lookup", errors.New("stored key is corrupt"))
	}
	copy(rec.Hash[:], h)
	times := []*time.Time{&rec.Created, &rec.Expires, &rec.UsedAt}
	for i, dst := range times {
		str, _ := v[2+i].(string)
		us, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return remember.Record{}, fail("lookup", errors.New("stored key is corrupt"))
		}
		if us != 0 || i < 2 {
			*dst = time.UnixMicro(us).UTC()
		}
	}
	return rec, nil
}

// Consume implements remember.Store: one script checks the old key, marks
// it used and stores next.
func (s *Store) Consume(ctx context.Context, selector string, usedAt time.Time, next remember.Record) error {
	if !remember.ValidSelector(selector) {
		return remember.ErrNotFound
	}
	if !remember.ValidSelector(next.Selector) {
		return fmt.Errorf("redisstore: consume: invalid next selector")
	}
	keys := []string{s.key(selector), s.user(next), s.exp(), s.key(next.Selector)}
	args := append([]any{micros(usedAt)}, recordArgs(next)...)
	res, err := consumeScript.Run(ctx, s.c, keys, args...).Text()
	if err != nil {
		return fail("consume", err)
	}
	switch res {
	case "ok":
		return nil
	case "notfound":
		return remember.ErrNotFound
	case "used":
		return remember.ErrAlreadyUsed
	case "collision":
		return remember.ErrCollision
	case "otheruser":
		return errors.New("redisstore: consume: the next key belongs to another user or realm")
	}
	return fail("consume", fmt.Errorf("unexpected answer %q", res))
}

// Delete implements remember.Store.
func (s *Store) Delete(ctx context.Context, selector string) error {
	if !remember.ValidSelector(selector) {
		return nil
	}
	if err := deleteScript.Run(ctx, s.c, []string{s.key(selector), s.exp()}, selector, s.p+":u:").Err(); err != nil {
		return fail("delete", err)
	}
	return nil
}

// DeleteUser implements remember.Store.
func (s *Store) DeleteUser(ctx context.Context, realm, user string) (int, error) {
	n, err := deleteUserScript.Run(ctx, s.c, []string{s.user(remember.Record{Realm: realm, User: user}), s.exp()}, s.p+":k:").Int()
	if err != nil {
		return 0, fail("delete user", err)
	}
	return n, nil
}

// gcBatch bounds one GC script, so the server is never blocked for long.
const gcBatch = 500

// GC implements remember.Store, in batches of gcBatch keys per script.
func (s *Store) GC(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		v, err := gcScript.Run(ctx, s.c, []string{s.exp()}, micros(now), s.p+":k:", s.p+":u:", gcBatch).Int64Slice()
		if err == nil && len(v) != 2 {
			err = fmt.Errorf("unexpected answer %v", v)
		}
		if err != nil {
			return total, fail("gc", err)
		}
		total += int(v[1])
		if v[0] < gcBatch {
			return total, nil
		}
	}
}

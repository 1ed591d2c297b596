package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/store/cookie"
)

// Revocations keeps the cookie store's revocation list (cookie.Revocations)
// in Redis, so that every gateway sharing the server sees a logout at once.
// A user's "revoked before" time is a key without expiry (one per user); a
// revoked session Ref is a key that expires when the revocation ends, so
// Redis forgets ended revocations itself. Times are Unix milliseconds, the
// precision a cookie keeps. Safe for concurrent use.
//
// Keys (Prefix defaults to "sessiond:"):
//
//	<prefix>cookie-revoked:u:<user key>   before, ms
//	<prefix>cookie-revoked:r:<ref>        until, ms (0: forever, no expiry)
type Revocations struct {
	client  goredis.UniversalClient
	owned   bool
	prefix  string
	timeout time.Duration
}

var _ cookie.Revocations = (*Revocations)(nil)

// RevocationsConfig configures Revocations: Client or URL, as in Config.
type RevocationsConfig struct {
	Client  goredis.UniversalClient
	URL     string
	Cluster bool
	// Prefix starts every key; default "sessiond:".
	Prefix string
	// Timeout bounds each operation; default 1 s.
	Timeout time.Duration
}

// NewRevocations connects (or takes the caller's client) and checks that
// the server answers.
func NewRevocations(ctx context.Context, cfg RevocationsConfig) (*Revocations, error) {
	r := &Revocations{client: cfg.Client, prefix: cfg.Prefix, timeout: cfg.Timeout}
	switch {
	case (cfg.Client == nil) == (cfg.URL == ""):
		return nil, errors.New("redis: RevocationsConfig needs exactly one of Client and URL")
	case cfg.Client != nil:
		if err := checkClient(cfg.Client); err != nil {
			return nil, err
		}
	default:
		c, err := clientFromURL(cfg.URL, cfg.Cluster)
		if err != nil {
			return nil, err
		}
		r.client, r.owned = c, true
	}
	if r.prefix == "" {
		r.prefix = "sessiond:"
	}
	if strings.ContainsAny(r.prefix, "{}") {
		return nil, fmt.Errorf("redis: RevocationsConfig.Prefix %q must not contain '{' or '}'", r.prefix)
	}
	if r.timeout <= 0 {
		r.timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		r.Close()
		return nil, fmt.Errorf("redis: cookie revocations: %w", err)
	}
	return r, nil
}

// Close closes the client if NewRevocations made it from a URL.
func (r *Revocations) Close() error {
	if r.owned {
		return r.client.Close()
	}
	return nil
}

func (r *Revocations) userKey(user string) string { return r.prefix + "cookie-revoked:u:" + user }
func (r *Revocations) refKey(ref string) string   { return r.prefix + "cookie-revoked:r:" + ref }

// ceilMs is t in Unix milliseconds rounded up (a cookie keeps whole
// milliseconds: one issued within the millisecond of t counts as before).
func ceilMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// RevokedBefore implements cookie.Revocations.
func (r *Revocations) RevokedBefore(ctx context.Context, user string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := r.client.Get(ctx, r.userKey(user)).Result()
	if errors.Is(err, goredis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("redis: reading a user's revocation time: %w", err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("redis: a user's revocation time is not a number")
	}
	return time.UnixMilli(ms), nil
}

// The stored time only moves forward.
var setBeforeScript = goredis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`)

// SetRevokedBefore implements cookie.Revocations.
func (r *Revocations) SetRevokedBefore(ctx context.Context, user string, t time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := setBeforeScript.Run(ctx, r.client, []string{r.userKey(user)}, ceilMs(t)).Err(); err != nil {
		return fmt.Errorf("redis: storing a user's revocation time: %w", err)
	}
	return nil
}

// A later until extends a revocation, an earlier one never shortens it, and
// 0 (forever) wins over any time.
var revokeRefScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
local untilMs = tonumber(ARGV[1])
if cur == '0' then return 0 end
if untilMs == 0 then redis.call('SET', KEYS[1], '0') return 0 end
if cur and tonumber(cur) >= untilMs then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], untilMs)
return 0`)

// RevokeRef implements cookie.Revocations.
func (r *Revocations) RevokeRef(ctx context.Context, ref string, until time.Time) error {
	var ms int64 // 0: forever
	if !until.IsZero() {
		ms = max(until.UnixMilli(), 1)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := revokeRefScript.Run(ctx, r.client, []string{r.refKey(ref)}, ms).Err(); err != nil {
		return fmt.Errorf("redis: storing a session revocation: %w", err)
	}
	return nil
}

// RefRevoked implements cookie.Revocations.
func (r *Revocations) RefRevoked(ctx context.Context, ref string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	n, err := r.client.Exists(ctx, r.refKey(ref)).Result()
	if err != nil {
		return false, fmt.Errorf("redis: reading a session revocation: %w", err)
	}
	return n == 1, nil
}

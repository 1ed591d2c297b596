package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/remember"
	rememberredis "github.com/sessiond/sessiond/remember/redisstore"
)

// The store's companions share its client (so its timeout rules) and its
// key prefix: one-time claims (<prefix>claim:<key>, expiring when the
// claim ends), named secrets (<prefix>secret:<label>, kept forever),
// remember-me keys (under <prefix>remember, see remember/redisstore) and,
// for the cookie store, its revocation list (Revocations).

// companions are made once per Store.
type companions struct {
	mu       sync.Mutex
	remember *rememberredis.Store
	rev      *Revocations
}

// Claim records key until until and reports whether this is its first
// claim: false while an earlier claim of key has not ended. Of concurrent
// claims of one key, by any number of processes on the server, exactly
// one is first (one SET NX).
func (s *Store) Claim(ctx context.Context, key string, until time.Time) (bool, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	ms := max(until.UnixMilli(), 1)
	err := s.client.Do(ctx, "SET", s.prefix+"claim:"+key, "1", "NX", "PXAT", ms).Err()
	switch {
	case errors.Is(err, goredis.Nil):
		return false, nil
	case err != nil:
		return false, fail("claim", err)
	}
	return true, nil
}

// ClaimedUntil returns when the claim of key ends; the zero time when key
// is not claimed (the key has expired, or never was).
func (s *Store) ClaimedUntil(ctx context.Context, key string) (time.Time, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	ms, err := s.client.PExpireTime(ctx, s.prefix+"claim:"+key).Result()
	if err != nil {
		return time.Time{}, fail("claim", err)
	}
	if ms <= 0 { // -2: no such key; -1: no expiry (not a claim)
		return time.Time{}, nil
	}
	return time.UnixMilli(int64(ms / time.Millisecond)), nil
}

// Secret returns the random 32-byte secret named label, made on first use
// and the same for every process on the server.
func (s *Store) Secret(ctx context.Context, label string) ([]byte, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	key := s.prefix + "secret:" + label
	b := make([]byte, 32)
	rand.Read(b)
	if err := s.client.SetNX(ctx, key, hex.EncodeToString(b), 0).Err(); err != nil {
		return nil, fail("secret", err)
	}
	v, err := s.client.Get(ctx, key).Result() // ours, or the one stored first
	if err != nil {
		return nil, fail("secret", err)
	}
	if b, err = hex.DecodeString(v); err != nil || len(b) != 32 {
		return nil, fmt.Errorf("redis: stored secret %q is malformed", label)
	}
	return b, nil
}

// Remember returns the remember-me keys kept on the server (the same store
// at every call).
func (s *Store) Remember(context.Context) (remember.Store, error) {
	s.comp.mu.Lock()
	defer s.comp.mu.Unlock()
	if s.comp.remember == nil {
		r, err := rememberredis.New(rememberredis.Config{Client: s.client, Prefix: s.prefix + "remember"})
		if err != nil {
			return nil, err
		}
		s.comp.remember = r
	}
	return s.comp.remember, nil
}

// Revocations returns the cookie store's revocation list kept on the
// server (the same list at every call); the first call checks that the
// server answers.
func (s *Store) Revocations(ctx context.Context) (*Revocations, error) {
	s.comp.mu.Lock()
	defer s.comp.mu.Unlock()
	if s.comp.rev == nil {
		r, err := NewRevocations(ctx, RevocationsConfig{Client: s.client, Prefix: s.prefix, Timeout: s.timeout})
		if err != nil {
			return nil, err
		}
		s.comp.rev = r
	}
	return s.comp.rev, nil
}

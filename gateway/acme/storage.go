package acme

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/sessiond/sessiond/internal/tick"
	"github.com/sessiond/sessiond/store/certkv"
)

// KV is where certificates, their keys, OCSP staples and the ACME account
// are kept (certkv.KV): every store package offers one on its own
// connections, so gateways sharing a store share certificates.
type KV = certkv.KV

// Lock timing: a holder renews its lock every lockTTL/3, so a crashed
// holder's lock frees itself within lockTTL; a waiter polls.
const (
	lockTTL      = 30 * time.Second
	lockPollMax  = time.Second
	lockPollBase = 20 * time.Millisecond
)

// storage is certmagic.Storage over a KV. certmagic treats keys as paths:
// a "directory" is a prefix of other keys, which List, Stat, Exists and
// Delete see through the keys under it.
type storage struct {
	kv    KV
	owner string // this process's lock owner: random per storage
	log   *slog.Logger

	mu   sync.Mutex
	held map[string]context.CancelFunc // lock name -> stops its renewal
}

var _ certmagic.Storage = (*storage)(nil)

func newStorage(kv KV, log *slog.Logger) *storage {
	b := make([]byte, 16)
	rand.Read(b)
	return &storage{kv: kv, owner: hex.EncodeToString(b), log: log, held: map[string]context.CancelFunc{}}
}

func (s *storage) Store(ctx context.Context, key string, value []byte) error {
	return s.kv.Store(ctx, key, value)
}

func (s *storage) Load(ctx context.Context, key string) ([]byte, error) {
	return s.kv.Load(ctx, key)
}

// Delete removes key and every key under it.
func (s *storage) Delete(ctx context.Context, key string) error {
	under, err := s.kv.List(ctx, key+"/")
	if err != nil {
		return err
	}
	for _, k := range append(under, key) {
		if err := s.kv.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

func (s *storage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// List returns the keys under dir: all of them (recursive), or its
// immediate children, files and directories.
func (s *storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	if dir == "" {
		prefix = ""
	}
	keys, err := s.kv.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: %w", dir, fs.ErrNotExist)
	}
	if recursive {
		sort.Strings(keys)
		return keys, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		child, _, _ := strings.Cut(strings.TrimPrefix(k, prefix), "/")
		if !seen[child] {
			seen[child] = true
			out = append(out, prefix+child)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	size, mod, err := s.kv.Stat(ctx, key)
	if err == nil {
		return certmagic.KeyInfo{Key: key, Modified: mod, Size: size, IsTerminal: true}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return certmagic.KeyInfo{}, err
	}
	under, lerr := s.kv.List(ctx, key+"/")
	if lerr != nil {
		return certmagic.KeyInfo{}, lerr
	}
	if len(under) == 0 {
		return certmagic.KeyInfo{}, err
	}
	return certmagic.KeyInfo{Key: key}, nil
}

// Lock waits for the named lock, then renews it in the background until
// Unlock, so that an order taking longer than lockTTL keeps it.
func (s *storage) Lock(ctx context.Context, name string) error {
	wait := lockPollBase
	for {
		ok, err := s.kv.Lock(ctx, name, s.owner, lockTTL)
		if err != nil {
			return fmt.Errorf("acme: lock %s: %w", name, err)
		}
		if ok {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, lockPollMax)
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.mu.Lock()
	if prev := s.held[name]; prev != nil {
		prev()
	}
	s.held[name] = stop
	s.mu.Unlock()
	go s.renew(rctx, name)
	return nil
}

func (s *storage) renew(ctx context.Context, name string) {
	tick.Every(ctx, lockTTL/3, func(time.Time) {
		if ok, err := s.kv.Lock(ctx, name, s.owner, lockTTL); (err != nil || !ok) && ctx.Err() == nil {
			s.log.Warn("acme: renewing a storage lock failed", "lock", name, "err", err)
		}
	})
}

func (s *storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	if stop := s.held[name]; stop != nil {
		stop()
		delete(s.held, name)
	}
	s.mu.Unlock()
	return s.kv.Unlock(context.WithoutCancel(ctx), name, s.owner)
}

// String names the storage in certmagic's logs and keys its in-process
// state.
func (s *storage) String() string { return fmt.Sprintf("sessiond-kv:%T", s.kv) }

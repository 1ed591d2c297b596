package sealed

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// StateConfig configures a State.
type StateConfig struct {
	// Inner keeps the claims and the stored secrets. Required.
	Inner StateStore
	// Keys are the store's keys (Config.Keys); the first is used. Required.
	Keys [][]byte
}

// State keeps an encrypted store's named secrets out of reach of whoever
// reads only its database, as Store keeps its sessions: each secret is
// derived (HKDF-SHA256) from the current key and the inner store's secret
// of the same label. A new current key therefore gives every secret a new
// value (device cookies signed with the old one are untrusted once).
// Claims pass through: they hold digests, nothing to hide.
type State struct {
	inner StateStore
	key   []byte
}

// StateStore is a store's one-time claims and named secrets (the
// gateway's State), as every store package's handle offers them.
type StateStore interface {
	Claim(ctx context.Context, key string, until time.Time) (first bool, err error)
	ClaimedUntil(ctx context.Context, key string) (time.Time, error)
	Secret(ctx context.Context, label string) ([]byte, error)
}

// NewState validates cfg and returns a State.
func NewState(cfg StateConfig) (*State, error) {
	switch {
	case cfg.Inner == nil:
		return nil, errors.New("sealed: StateConfig.Inner is nil")
	case len(cfg.Keys) == 0 || len(cfg.Keys[0]) != 32:
		return nil, errors.New("sealed: StateConfig.Keys needs a first key of 32 bytes")
	}
	return &State{inner: cfg.Inner, key: append([]byte(nil), cfg.Keys[0]...)}, nil
}

// Claim is the inner store's Claim.
func (s *State) Claim(ctx context.Context, key string, until time.Time) (bool, error) {
	return s.inner.Claim(ctx, key, until)
}

// ClaimedUntil is the inner store's ClaimedUntil.
func (s *State) ClaimedUntil(ctx context.Context, key string) (time.Time, error) {
	return s.inner.ClaimedUntil(ctx, key)
}

// Secret returns the 32-byte secret named label.
func (s *State) Secret(ctx context.Context, label string) ([]byte, error) {
	stored, err := s.inner.Secret(ctx, label)
	if err != nil {
		return nil, err
	}
	b, err := hkdf.Key(sha256.New, append(append([]byte(nil), s.key...), stored...), nil, "sessiond sealed secret\x00"+label, 32)
	if err != nil {
		return nil, fmt.Errorf("sealed: deriving secret %q: %w", label, err)
	}
	return b, nil
}

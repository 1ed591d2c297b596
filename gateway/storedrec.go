package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/session"
)

// The gateway keeps a little state of its own in the session store, so it
// survives a restart and is shared by every gateway on the same store: a
// secret (the device-cookie key) and the replay set of migrated Apache
// cookies. Each such record is named by the SHA-256 of a label longer than
// an ID's 32 bytes, so no cookie value can ever name it (that would need a
// SHA-256 preimage), and it has no user, so no user's list shows it.

// internalHash names an internal record. label must be longer than 32 bytes.
func internalHash(label string) session.Hash {
	if len(label) <= 32 {
		panic("gateway: internal record label too short")
	}
	return session.Hash(sha256.Sum256([]byte(label)))
}

// internalRef is the record key of an internal record.
func internalRef(h session.Hash) string { return "sessiond-internal-" + h.Hex()[:32] }

// claimOnce records h until expires and reports whether this was the first
// claim (false: it was claimed before — a replay). Concurrent claims of
// one h by any number of gateways on one store: exactly one wins.
func claimOnce(ctx context.Context, st session.Store, h session.Hash, expires time.Time) (bool, error) {
	now := time.Now()
	rec := &session.Record{Ref: internalRef(h), ID: h, Created: now, LastSeen: now, Saved: now, Rotated: now,
		Expires: expires, Version: 1}
	err := st.Create(ctx, rec)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, session.ErrCollision):
		return false, nil
	}
	return false, err
}

// storedSecret returns a random 32-byte secret kept in the store under
// label, creating it on first use.
func storedSecret(ctx context.Context, st session.Store, label string) ([]byte, error) {
	h := internalHash("sessiond internal secret: " + label)
	for range 3 {
		rec, err := st.Load(ctx, h)
		if err == nil {
			b, err := hex.DecodeString(rec.Data["secret"])
			if err != nil || len(b) != 32 {
				return nil, fmt.Errorf("gateway: stored secret %q is malformed", label)
			}
			return b, nil
		}
		if !errors.Is(err, session.ErrNotFound) {
			return nil, err
		}
		b := make([]byte, 32)
		rand.Read(b)
		now := time.Now()
		err = st.Create(ctx, &session.Record{Ref: internalRef(h), ID: h, Data: map[string]string{"secret": hex.EncodeToString(b)},
			Created: now, LastSeen: now, Saved: now, Rotated: now, Version: 1})
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, session.ErrCollision) {
			return nil, err
		}
		// Another gateway created it first: load theirs.
	}
	return nil, errors.New("gateway: stored secret: lost the race three times")
}

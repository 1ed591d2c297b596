package gateway

import (
	"context"
	"time"
)

// State is the gateway's own small state, kept by the store beside the
// sessions so that it survives a restart and is shared by every gateway on
// the store. Each store package's handle satisfies it (store/memory,
// store/sqlite, store/postgres, store/redis; the cookie store keeps it on
// its revocations backend), and store/storetest.State checks them.
type State interface {
	// Claim records key until until and reports whether this is its first
	// claim: false while an earlier claim of key has not ended (a replay).
	// Of concurrent claims of one key, by any number of gateways on one
	// store, exactly one is first.
	Claim(ctx context.Context, key string, until time.Time) (first bool, err error)
	// ClaimedUntil returns when the claim of key ends, as Claim recorded
	// it, or the zero time when key is not claimed (never, or its claim
	// has ended). It changes nothing: a gateway reads there what another
	// recorded (a provider's logout of a sign-in session).
	ClaimedUntil(ctx context.Context, key string) (time.Time, error)
	// Secret returns the random 32-byte secret named label, created on
	// first use and the same for every gateway on the store.
	Secret(ctx context.Context, label string) ([]byte, error)
}

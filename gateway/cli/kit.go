package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/sessiond/sessiond/gateway"
	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/internal/tick"
	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/certkv"
	"github.com/sessiond/sessiond/store/cookie"
	"github.com/sessiond/sessiond/store/memory"
	"github.com/sessiond/sessiond/store/postgres"
	redisstore "github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/sealed"
	"github.com/sessiond/sessiond/store/sqlite"
)

// kit is the configured store with its companions, all on one handle (one
// pool set per database file, one client per Redis URL): the sessions
// (Store, or the cookie store's Codec on its revocation list), the
// gateway's State, the remember-me keys and the certificate store (ACME).
// With store.encrypt_at_rest, sessions, secrets and certificates are
// sealed.
type kit struct {
	store    session.Store
	codec    session.CookieCodec
	state    gateway.State
	remember func(context.Context) (remember.Store, error)
	certs    func(context.Context) (certkv.KV, error)
	close    func() error
}

// handle is what every store package's handle offers besides sessions.
type handle interface {
	gateway.State
	Remember(context.Context) (remember.Store, error)
	CertStore(context.Context) (certkv.KV, error)
	Close() error
}

func (k *kit) use(h handle) {
	k.state, k.remember, k.certs, k.close = h, h.Remember, h.CertStore, h.Close
}

// openKit opens the configured store. In check mode (check-config) an
// SQLite file is not created or opened — that would leave a database and
// its WAL files owned by whoever ran the check — only its place is checked,
// and a memory store stands in; network stores are connected to exactly
// as serve does.
func openKit(ctx context.Context, sc config.Store, log *slog.Logger, check bool) (*kit, error) {
	k := &kit{close: func() error { return nil }}
	var rev cookie.Revocations
	switch {
	case sc.Cookie != nil && sc.Revocations == nil:
		return nil, errors.New("the cookie store needs store.revocations (a cookie cannot be taken back once issued)")
	case sc.Cookie != nil && sc.Revocations.Redis != nil:
		r, err := redisstore.New(redisstore.Config{URL: sc.Revocations.Redis.URL.Reveal(), Logger: log})
		if err != nil {
			return nil, err
		}
		k.use(r)
		if rev, err = r.Revocations(ctx); err != nil {
			r.Close()
			return nil, err
		}
	case sc.Cookie != nil && check:
		if err := checkSQLitePath(sc.Revocations.Path); err != nil {
			return nil, fmt.Errorf("cookie revocations: %w", err)
		}
		k.use(memory.New(memory.Config{SweepInterval: -1}))
		rev = cookie.NewMemoryRevocations()
	case sc.Cookie != nil:
		// Every request of a cookie session checks the list: synchronous
		// NORMAL keeps its commits off the disk's flush.
		s, err := sqlite.New(ctx, sqlite.Config{Path: sc.Revocations.Path, Synchronous: "NORMAL", Logger: log})
		if err != nil {
			return nil, fmt.Errorf("cookie revocations: %w", err)
		}
		sqlRev, err := s.Revocations(ctx)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("cookie revocations: %w", err)
		}
		k.use(s)
		k.close = sweepRevocations(ctx, sqlRev, s.Close)
		rev = sqlRev
	case sc.Memory != nil:
		// No sweeper of its own: the gateway's GC (RunGC) removes expired
		// records and audits how many.
		m := memory.New(memory.Config{SweepInterval: -1})
		k.store = m
		k.use(m)
	case sc.Redis != nil:
		r, err := redisstore.New(redisstore.Config{URL: sc.Redis.URL.Reveal(), Logger: log})
		if err != nil {
			return nil, err
		}
		k.store = r
		k.use(r)
	case sc.Postgres != nil:
		p, err := postgres.New(ctx, postgres.Config{URL: sc.Postgres.DSN.Reveal(), Logger: log})
		if err != nil {
			return nil, err
		}
		k.store = p
		k.use(p)
	case check:
		if err := checkSQLitePath(sqlitePath(sc)); err != nil {
			return nil, err
		}
		m := memory.New(memory.Config{})
		k.store = m
		k.use(m)
	default:
		s, err := sqlite.New(ctx, sqlite.Config{Path: sqlitePath(sc), Logger: log})
		if err != nil {
			return nil, err
		}
		k.store = s
		k.use(s)
	}
	if check {
		// check-config creates no table: remember-me keys and certificates
		// in memory.
		k.remember = func(context.Context) (remember.Store, error) { return remember.NewMemoryStore(), nil }
		k.certs = func(context.Context) (certkv.KV, error) { return memory.NewCertStore(), nil }
	}
	if rev != nil {
		codec, err := cookie.New(cookie.Config{Keys: sc.Cookie.Keys, Logger: log, Revocations: rev})
		if err != nil {
			k.close()
			return nil, err
		}
		k.codec = codec
	}
	if sc.EncryptAtRest != nil && k.store != nil {
		w, err := sealed.New(sealed.Config{Inner: k.store, Keys: sc.EncryptAtRest.Keys, Logger: log})
		if err != nil {
			k.close()
			return nil, err
		}
		st, err := sealed.NewState(sealed.StateConfig{Inner: k.state, Keys: sc.EncryptAtRest.Keys})
		if err != nil {
			k.close()
			return nil, err
		}
		k.store, k.state = w, st
		inner := k.certs
		k.certs = func(ctx context.Context) (certkv.KV, error) {
			kv, err := inner(ctx)
			if err != nil {
				return nil, err
			}
			return sealed.NewCertStore(sealed.CertStoreConfig{Inner: kv, Keys: sc.EncryptAtRest.Keys, Logger: log})
		}
	}
	return k, nil
}

// sqlitePath is the SQLite store's file.
func sqlitePath(sc config.Store) string {
	if sc.SQLite != nil {
		return sc.SQLite.Path
	}
	return "sessiond.db"
}

// sweepRevocations deletes ended revocations every 10 minutes until the
// returned close, which then runs closeStore.
func sweepRevocations(ctx context.Context, rev *cookie.SQLRevocations, closeStore func() error) func() error {
	gcCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick.Every(gcCtx, 10*time.Minute, func(now time.Time) {
			if _, err := rev.GC(gcCtx, now); err != nil && gcCtx.Err() == nil {
				slog.Error("sessiond: sweeping cookie revocations", "err", err)
			}
		})
	}()
	return func() error { stop(); <-done; return closeStore() }
}

// checkSQLitePath reports what would stop SQLite from opening path: an
// existing file that is not a regular file, or a missing directory.
func checkSQLitePath(path string) error {
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("sqlite: %s is not a regular file", path)
		}
		return nil
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("sqlite: %s is not a directory", filepath.Dir(path))
	}
	return nil
}

package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/batch"
)

// Defaults applied by New when the Config leaves a field zero.
const (
	DefaultPrefix   = "sessiond:"
	DefaultTimeout  = time.Second
	DefaultLockTTL  = 15 * time.Second
	DefaultLockWait = 10 * time.Second
	DefaultGCBatch  = 256
)

// Socket timeouts of a client that New makes from Config.URL, unless the
// URL sets its own (dial_timeout=, read_timeout=, ...). They are small so a
// dead server fails a request in well under a second instead of the
// go-redis defaults of 5 s per attempt.
const (
	urlDialTimeout  = time.Second // a refused dial fails at once; this bounds a silent one, and survives a busy machine
	urlIOTimeout    = 500 * time.Millisecond
	urlPoolTimeout  = 500 * time.Millisecond
	urlMaxRetries   = 1
	urlDialAttempts = 1
)

// Config configures a Store. Exactly one of Client and URL must be set.
type Config struct {
	// Client is a client the caller made and owns (Close does not close
	// it): a *goredis.Client for a single node or Sentinel
	// (NewFailoverClient), or a *goredis.ClusterClient. It must have been
	// made with ContextTimeoutEnabled: true, or Timeout could not bound a
	// call to a hung server; New rejects it otherwise. *goredis.Ring is
	// not supported (its sharding splits a record from its ID keys).
	Client goredis.UniversalClient
	// URL makes a client owned by the Store: redis://[user:pass@]host:port/db
	// or rediss:// for TLS. With Cluster set it is parsed as a cluster URL
	// (extra seed nodes as ?addr=host:port). Unless the URL says otherwise,
	// the client dials with a 1 s timeout, reads and writes with 500 ms,
	// and retries once, so an outage is reported fast.
	URL string
	// Cluster selects the Redis Cluster protocol (see the package doc). It
	// is implied when Client is a *goredis.ClusterClient; set it for a URL
	// of a cluster or for a client wrapper New cannot recognise.
	Cluster bool
	// Prefix starts every key; default "sessiond:". It may not contain '{'
	// or '}', which would change the hash slots the layout relies on.
	Prefix string
	// Timeout bounds each operation (all its round trips); default 1 s.
	Timeout time.Duration
	// LockTTL is how long a lock outlives a holder that stopped renewing it
	// (a crashed process); default 15 s. A live holder renews it every
	// LockTTL/3.
	LockTTL time.Duration
	// LockWait bounds how long Lock waits for a held lock, on top of the
	// caller's context; default 10 s.
	LockWait time.Duration
	// GCBatch is the SCAN COUNT hint and the number of keys GC handles per
	// script call or pipeline; default 256.
	GCBatch int
	// Logger receives warnings about partial cluster writes that were
	// repaired or left to expire; default slog.Default(). Records are
	// named by Ref only, never by an ID or an ID hash.
	Logger *slog.Logger
}

// Store is a session.Store and session.Locker on Redis. It is safe for
// concurrent use by many goroutines (and by many processes sharing one
// Redis): every change is one atomic script, or in Cluster mode a
// sequence ordered so that readers never see a half-made record.
type Store struct {
	client  goredis.UniversalClient
	owned   bool // made from Config.URL: Close closes it
	cluster bool
	prefix  string
	match   string // SCAN pattern for every key of this store
	timeout time.Duration
	lockTTL time.Duration
	wait    time.Duration
	batch   int
	log     *slog.Logger
	slots   chan struct{} // admission of request-path operations (see request)
	loads   *batch.Loader[session.Hash, []string]
	hints   *refHints
	resp2   bool       // the client speaks RESP2 (a single node's HGETALL answers a list)
	comp    companions // remember-me keys, revocations (state.go)
}

var (
	_ session.Store  = (*Store)(nil)
	_ session.Locker = (*Store)(nil)
)

// New validates cfg and returns a Store. It does no I/O: a server that is
// down at start-up makes operations fail with session.ErrUnavailable, not
// New.
func New(cfg Config) (*Store, error) {
	s := &Store{
		prefix:  cfg.Prefix,
		timeout: cfg.Timeout,
		lockTTL: cfg.LockTTL,
		wait:    cfg.LockWait,
		batch:   cfg.GCBatch,
		log:     cfg.Logger,
		cluster: cfg.Cluster,
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if strings.ContainsAny(s.prefix, "{}") {
		return nil, fmt.Errorf("redis: Config.Prefix %q contains '{' or '}' (hash tags are reserved for the key layout)", s.prefix)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"Timeout", &s.timeout, DefaultTimeout}, {"LockTTL", &s.lockTTL, DefaultLockTTL}, {"LockWait", &s.wait, DefaultLockWait}} {
		if *d.v < 0 {
			return nil, fmt.Errorf("redis: Config.%s is negative (%v)", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if s.lockTTL < 3*time.Millisecond {
		return nil, fmt.Errorf("redis: Config.LockTTL %v is too short to renew (want at least 3ms)", s.lockTTL)
	}
	if s.batch < 0 {
		return nil, fmt.Errorf("redis: Config.GCBatch is negative (%d)", s.batch)
	}
	if s.batch == 0 {
		s.batch = DefaultGCBatch
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	switch {
	case cfg.Client != nil && cfg.URL != "":
		return nil, errors.New("redis: set Config.Client or Config.URL, not both")
	case cfg.Client != nil:
		if err := checkClient(cfg.Client); err != nil {
			return nil, err
		}
		s.client = cfg.Client
		if _, ok := cfg.Client.(*goredis.ClusterClient); ok {
			s.cluster = true
		}
	case cfg.URL != "":
		c, err := clientFromURL(cfg.URL, cfg.Cluster)
		if err != nil {
			return nil, err
		}
		s.client, s.owned = c, true
	default:
		return nil, errors.New("redis: Config.Client or Config.URL is required")
	}
	s.match = globEscape(s.prefix) + "*"
	// A few connections stay free for lock renewal, GC and listing.
	s.slots = make(chan struct{}, max(poolSize(s.client)*3/4, 1))
	s.loads = &batch.Loader[session.Hash, []string]{Fetch: s.loadMany, Timeout: s.timeout}
	s.hints = newRefHints()
	if c, ok := s.client.(*goredis.Client); ok && c.Options().Protocol == 2 {
		s.resp2 = true
	}
	return s, nil
}

func checkClient(c goredis.UniversalClient) error {
	var bounded bool
	switch c := c.(type) {
	case *goredis.Client:
		bounded = c.Options().ContextTimeoutEnabled
	case *goredis.ClusterClient:
		bounded = c.Options().ContextTimeoutEnabled
	case *goredis.Ring:
		return errors.New("redis: a *redis.Ring is not supported (client-side sharding would split a record from its ID index); use a single node, Sentinel or Cluster")
	default:
		return nil // a wrapper: trust it
	}
	if !bounded {
		return errors.New("redis: Config.Client must be made with ContextTimeoutEnabled: true, otherwise Config.Timeout cannot bound a call to a hung server")
	}
	return nil
}

// Close closes the client if New made it from Config.URL; a caller's
// Client stays open. Locks still held are left to expire.
func (s *Store) Close() error {
	if s.owned {
		return s.client.Close()
	}
	return nil
}

// Key layout (see doc.go). The record and its lock carry the hash tag
// {ref}, so they share a Cluster slot.
func (s *Store) recordKey(ref string) string { return s.prefix + "{" + ref + "}:r" }
func (s *Store) lockKey(ref string) string   { return s.prefix + "{" + ref + "}:l" }
func (s *Store) idKey(h session.Hash) string { return s.prefix + "i:" + h.Hex() }
func (s *Store) userKey(u string) string     { return s.prefix + "u:" + u }

// globEscape quotes the characters SCAN MATCH treats specially.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func fail(op string, err error) error {
	switch {
	case errors.Is(err, goredis.Nil):
		return fmt.Errorf("redis: %s: %w", op, session.ErrNotFound)
	case unavailable(err):
		return fmt.Errorf("redis: %s: %w: %w", op, session.ErrUnavailable, err)
	default:
		return fmt.Errorf("redis: %s: %w", op, err)
	}
}

func unavailable(err error) bool {
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return true // not a reply: network, timeout, pool, context, closed
	}
	return goredis.IsLoadingError(err) || goredis.IsReadOnlyError(err) ||
		goredis.IsClusterDownError(err) || goredis.IsTryAgainError(err) ||
		goredis.IsMasterDownError(err) || goredis.IsMaxClientsError(err) ||
		goredis.IsOOMError(err) || goredis.IsNoReplicasError(err) ||
		goredis.HasErrorPrefix(err, "BUSY")
}

// status maps a script's answer word to the contract's errors.
func status(op, word string) error {
	switch word {
	case "OK":
		return nil
	case "NOTFOUND":
		return fmt.Errorf("redis: %s: %w", op, session.ErrNotFound)
	case "CONFLICT":
		return fmt.Errorf("redis: %s: %w", op, session.ErrConflict)
	case "COLLISION":
		return fmt.Errorf("redis: %s: %w", op, session.ErrCollision)
	}
	return fmt.Errorf("redis: %s: unexpected script answer %q", op, word)
}

func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// request admits one request-path operation and bounds it by Timeout. At
// most a pool's worth of operations run at once; the others queue here,
// bounded by the caller's context, not by Timeout: under a burst of
// requests the time spent queueing is not a slow server, so it must not
// turn into ErrUnavailable.
func (s *Store) request(ctx context.Context, op string) (context.Context, context.CancelFunc, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("redis: %s: %w: waiting for a connection: %w", op, session.ErrUnavailable, context.Cause(ctx))
	}
	octx, cancel := s.opContext(ctx)
	return octx, func() { cancel(); <-s.slots }, nil
}

// poolSize is the connection pool size of c (per node in a Cluster).
func poolSize(c goredis.UniversalClient) int {
	switch c := c.(type) {
	case *goredis.Client:
		return c.Options().PoolSize
	case *goredis.ClusterClient:
		return c.Options().PoolSize
	}
	return 10 * runtime.GOMAXPROCS(0) // go-redis's default
}

// Load implements session.Store: one round trip on a single node or
// Sentinel (a script reads the ID key, then the record), two in Cluster
// mode (GET the ID key, then HGET the record from its own slot).
func (s *Store) Load(ctx context.Context, h session.Hash) (*session.Record, error) {
	if h.IsZero() {
		return nil, fmt.Errorf("redis: load: %w", session.ErrNotFound)
	}
	var pairs []string
	if !s.cluster {
		var err error
		if pairs, _, err = s.loads.Load(ctx, h); err != nil {
			return nil, err
		}
	} else {
		ctx, done, err := s.request(ctx, "load")
		if err != nil {
			return nil, err
		}
		defer done()
		if pairs, err = s.clusterLoad(ctx, h); err != nil {
			return nil, fail("load", err)
		}
	}
	rec, err := decode(pairs, h, time.Now())
	if err == nil {
		s.hints.put(h, rec.Ref)
	}
	return rec, err
}

// Create implements session.Store: one script on a single node; in Cluster
// mode, the ID keys are claimed first (SET NX semantics, rolled back on a
// collision), then the record is written if its key is free.
func (s *Store) Create(ctx context.Context, rec *session.Record) error {
	w, err := s.prepare(rec, time.Now())
	if err != nil {
		return err
	}
	w.fields = fields(rec)
	ctx, done, err := s.request(ctx, "create")
	if err != nil {
		return err
	}
	defer done()
	if s.cluster {
		return s.clusterCreate(ctx, w)
	}
	word, err := scriptCreate.Run(ctx, s.client, append([]string{s.recordKey(w.ref)}, w.idKeys...),
		append([]any{s.prefix, w.ref, w.data, w.ver, w.ids, w.user, w.exp, w.ttl, w.score, w.now}, w.fields...)...).Text()
	if err != nil {
		return fail("create", err)
	}
	return status("create", word)
}

// Update implements session.Store: one compare-and-swap script on a single
// node. In Cluster mode an update that keeps the record's IDs and user is
// one pipelined round (the CAS plus TTL refreshes of its ID keys and user
// index); one that changes them takes three (claim, CAS, release).
func (s *Store) Update(ctx context.Context, rec *session.Record, prev uint64) error {
	w, err := s.prepare(rec, time.Now())
	if err != nil {
		return err
	}
	w.fields = fields(rec)
	ctx, done, err := s.request(ctx, "update")
	if err != nil {
		return err
	}
	defer done()
	if s.cluster {
		return s.clusterUpdate(ctx, w, prev)
	}
	word, err := scriptUpdate.Run(ctx, s.client, append([]string{s.recordKey(w.ref)}, w.idKeys...),
		append([]any{s.prefix, w.ref, w.data, w.ver, w.ids, w.user, w.exp, w.ttl, w.score, w.now,
			strconv.FormatUint(prev, 10)}, w.fields...)...).Text()
	if err != nil {
		return fail("update", err)
	}
	return status("update", word)
}

// Delete implements session.Store: one script on a single node; two
// rounds in Cluster mode (the record, then its ID keys and user entry).
func (s *Store) Delete(ctx context.Context, ref string) error {
	ctx, done, err := s.request(ctx, "delete")
	if err != nil {
		return err
	}
	defer done()
	if s.cluster {
		return s.clusterDelete(ctx, ref)
	}
	if err = scriptDelete.Run(ctx, s.client, []string{s.recordKey(ref)}, s.prefix, ref).Err(); err != nil {
		return fail("delete", err)
	}
	return nil
}

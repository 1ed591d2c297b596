// Package postgres is a session.Store on PostgreSQL, through a pgx/v5
// connection pool: the store for several gateways or app servers sharing
// sessions when Redis is not wanted.
//
// # Layout
//
// Two tables, named with Config.TablePrefix (default "sessiond_") in
// Config.Schema (default: the connection's search_path): sessions, one row
// per record (an identity id, ref unique, user_id and expires each with an
// index, version for compare-and-swap, and blob, the session.MarshalRecord
// bytes), and ids, which maps every ID hash of a record (current, secure,
// obsolete aliases) to its session id with ON DELETE CASCADE. A third,
// schema_version, records the applied migrations. New creates or migrates
// the tables inside a transaction holding pg_advisory_xact_lock, so any
// number of processes may start at once.
//
// # Round trips
//
// Load, Create, Update, Delete and ListUser are each one statement, so one
// round trip: Update is a compare-and-swap on the version that rewrites the
// changed ID rows in the same statement (data-modifying CTEs), and a unique
// violation anywhere makes the whole statement fail (session.ErrCollision).
// Merge is one statement too: a compare-and-swap UPDATE when the stored
// row is still at the change set's base and keeps its ID hashes (nearly
// every modifying request), else a call of the merge function, which locks
// the row and applies Merger's rules; only a merge whose UPDATE found the
// row moved on makes both, in one connection.
//
// # Failures
//
// Every operation is bounded by Config.Timeout. A server that is down,
// restarting, unreachable or too slow gives an error wrapping
// session.ErrUnavailable within about that time; the pool reconnects by
// itself when the server is back, so the same Store recovers.
//
// A Store is safe for concurrent use.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/batch"

	"github.com/sessiond/sessiond/store/internal/sqlstore"
)

// Config configures a Store. Only URL is required.
type Config struct {
	// URL is a PostgreSQL connection string (postgres://user@host/db or
	// key=value form).
	URL string
	// Schema holds the tables; created if missing. Empty: unqualified
	// names, resolved by the connection's search_path.
	Schema string
	// TablePrefix starts every table and index name. Default "sessiond_".
	// Schema and TablePrefix must be lower-case letters, digits and '_'.
	TablePrefix string
	// Timeout bounds every operation, including getting a connection,
	// and each GC batch; past it the operation fails with
	// session.ErrUnavailable. It is also the server-side statement_timeout
	// (unless the URL sets one). Default 2s.
	Timeout time.Duration
	// ConnectTimeout bounds opening one connection. Default: Timeout.
	ConnectTimeout time.Duration
	// MaxConns is the size of the connection pool. Default: the URL's
	// pool_max_conns, else max(16, 4 × GOMAXPROCS). Every request with a
	// session holds one for a round trip: pgxpool's own default of
	// max(4, CPUs) made a busy gateway queue for connections (a quarter
	// of the throughput at 32 concurrent requests on 2 cores).
	MaxConns int32
	// LockConns is the size of the separate pool that holds advisory locks
	// for Lock (one connection per held or awaited lock). Default 32.
	LockConns int32
	// GCBatch is the most expired records one GC statement deletes.
	// Default 1000.
	GCBatch int
	// GCTarget is how long one GC statement should take: batch sizes
	// adapt to it (up to GCBatch) and GC pauses three times as long after
	// each (see gcPause). Default 0.5ms (see Store.GC); negative: always
	// GCBatch rows, back to back (fastest collection).
	GCTarget time.Duration
	// Logger receives migration and GC messages (never IDs, hashes or
	// session data). Default slog.Default().
	Logger *slog.Logger
}

const (
	defaultTimeout   = 2 * time.Second
	defaultGCTarget  = 500 * time.Microsecond
	defaultPrefix    = "sessiond_"
	defaultLockConns = 32
	maxIdentLen      = 63 // PostgreSQL's NAMEDATALEN-1
	longestSuffix    = "sessions_expires_idx"
)

// gcPause is the GC's pause after a batch, in batch durations. Requests
// never wait for a GC statement's locks, but share the server's CPU and
// disk with it: with 2 ms batches and a pause as long, loads' p99 during a
// sweep of 200,000 rows was 3.4 to 4.8 times idle; with three times as
// long, 2 to 3 times (six times as long did no better: shorter batches
// did, see Store.GC). None with a negative GCTarget.
func gcPause(target time.Duration) float64 {
	if target > 0 {
		return 3
	}
	return 0
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func (c *Config) validate() error {
	if c.URL == "" {
		return errors.New("postgres: Config.URL is required")
	}
	if c.Schema != "" && (!identRE.MatchString(c.Schema) || len(c.Schema) > maxIdentLen) {
		return fmt.Errorf("postgres: Config.Schema %q: want lower-case letters, digits and '_', at most %d bytes", c.Schema, maxIdentLen)
	}
	if c.TablePrefix == "" {
		c.TablePrefix = defaultPrefix
	}
	if !identRE.MatchString(c.TablePrefix) || len(c.TablePrefix)+len(longestSuffix) > maxIdentLen {
		return fmt.Errorf("postgres: Config.TablePrefix %q: want lower-case letters, digits and '_', at most %d bytes",
			c.TablePrefix, maxIdentLen-len(longestSuffix))
	}
	switch {
	case c.Timeout < 0, c.ConnectTimeout < 0:
		return errors.New("postgres: Config.Timeout and ConnectTimeout must not be negative")
	case c.MaxConns < 0, c.LockConns < 0:
		return errors.New("postgres: Config.MaxConns and LockConns must not be negative")
	case c.GCBatch < 0:
		return fmt.Errorf("postgres: Config.GCBatch %d is negative", c.GCBatch)
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = c.Timeout
	}
	if c.LockConns == 0 {
		c.LockConns = defaultLockConns
	}
	if c.GCBatch == 0 {
		c.GCBatch = sqlstore.DefaultGCBatch
	}
	if c.GCTarget == 0 {
		c.GCTarget = defaultGCTarget
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Store is a session.Store (and session.Locker) on PostgreSQL. It is safe
// for concurrent use.
type Store struct {
	pool     *pgxpool.Pool // operations
	loads    *batch.Loader[session.Hash, loaded]
	locks    *pgxpool.Pool // advisory locks only (see Lock)
	timeout  time.Duration
	gcPlan   sqlstore.GCPlan
	backlog  sqlstore.Backlog
	log      *slog.Logger
	q        queries
	lockSalt string // namespaces record lock keys by schema and prefix
	held     heldLocks
	schema   string     // Config.Schema
	prefix   string     // Config.TablePrefix
	comp     companions // claims, secrets, remember-me keys (state.go)
}

// New connects, creates or migrates the tables, and returns the store.
// ctx bounds the whole opening. A server that cannot be reached is an
// error wrapping session.ErrUnavailable.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: Config.URL: %w", err) // pgconn redacts the password (best effort)
	}
	pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = "sessiond"
	}
	lc := pc.Copy()
	if _, ok := pc.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		pc.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(cfg.Timeout.Milliseconds())
	}
	switch {
	case cfg.MaxConns > 0:
		pc.MaxConns = cfg.MaxConns
	case !strings.Contains(cfg.URL, "pool_max_conns"):
		pc.MaxConns = int32(max(16, 4*runtime.GOMAXPROCS(0)))
	}
	lc.ConnConfig.RuntimeParams["statement_timeout"] = "0" // lock waits end with their context
	lc.MaxConns, lc.MinConns = cfg.LockConns, 0

	s := &Store{
		timeout:  cfg.Timeout,
		gcPlan:   sqlstore.GCPlan{Max: cfg.GCBatch, Target: max(cfg.GCTarget, 0), Pause: gcPause(cfg.GCTarget)},
		log:      cfg.Logger,
		q:        newQueries(cfg.Schema, cfg.TablePrefix),
		lockSalt: cfg.Schema + "." + cfg.TablePrefix,
		schema:   cfg.Schema,
		prefix:   cfg.TablePrefix,
	}
	s.loads = &batch.Loader[session.Hash, loaded]{Fetch: s.loadMany, Clone: loaded.clone, Timeout: cfg.Timeout}
	if s.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return nil, fmt.Errorf("postgres: pool: %w", err)
	}
	if s.locks, err = pgxpool.NewWithConfig(ctx, lc); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: lock pool: %w", err)
	}
	from, to, err := s.migrate(ctx, cfg.Schema)
	if err != nil {
		s.Close()
		return nil, s.fail("migrate", err)
	}
	if from != to {
		s.log.Info("postgres session store: schema migrated", "schema", cfg.Schema, "prefix", cfg.TablePrefix, "from", from, "to", to)
	}
	return s, nil
}

// Close closes both connection pools, ending any advisory locks still
// held (their unlock functions then do nothing). Operations after Close
// fail with session.ErrUnavailable. Close is idempotent and returns nil.
func (s *Store) Close() error {
	ctx, cancel := s.op(context.Background())
	defer cancel()
	s.held.closeAll(ctx)
	s.comp.once.Do(func() {}) // no companions made from here on
	if s.comp.db != nil {
		s.comp.db.Close() // leaves the pool open
	}
	s.locks.Close()
	s.pool.Close()
	return nil
}

// op bounds one operation by the store's timeout.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// conn takes a pool connection for a request-path operation. The wait for
// a free connection is bounded by the caller's context and Timeout
// together only once a connection is being made: a burst of requests
// queues for the pool instead of failing, while a server that does not
// answer still fails within Timeout. The statement gets Timeout.
func (s *Store) conn(ctx context.Context, op string) (*pgxpool.Conn, context.Context, func(), error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, nil, s.fail(op, err)
	}
	octx, cancel := s.op(ctx)
	return c, octx, func() { cancel(); c.Release() }, nil
}

// advisoryKey maps names into PostgreSQL's 64-bit advisory lock space
// (shared by every application of the database, hence the prefix).
func advisoryKey(names ...string) int64 {
	h := fnv.New64a()
	h.Write([]byte("sessiond"))
	for _, n := range names {
		h.Write([]byte{0})
		h.Write([]byte(n))
	}
	return int64(h.Sum64())
}

// ident quotes a validated identifier.
func ident(parts ...string) string {
	var nonEmpty []string
	for _, p := range parts {
		if p != "" {
			nonEmpty = append(nonEmpty, p)
		}
	}
	return pgx.Identifier(nonEmpty).Sanitize()
}

// Package sqlite is a session.Store in one SQLite file: the embedded
// default of sessiond. It uses modernc.org/sqlite (pure Go, no cgo).
//
// # Durability and processes
//
// The database runs in WAL mode with synchronous=FULL by default: when
// Create, Update or Delete returns nil the change has been fsynced, so it
// survives a kill -9 of the process and a power loss. synchronous=NORMAL
// (Config.Synchronous) still survives a process crash (the WAL is in the OS
// page cache) but may lose the last commits on a power loss or kernel crash.
// A background goroutine copies the WAL into the database file every 100 ms
// (every 2 s while GC runs; SQLite's own automatic checkpoint would run
// inside a request's commit),
// and once the WAL holds 1,000 pages it finishes a checkpoint between two
// write transactions, so the WAL starts over even under a steady write load.
//
// Several processes may open the same file at once (for example two
// gateways on one host): writers serialise on SQLite's file lock, waiting up
// to Config.BusyTimeout, and the schema is created or migrated inside an
// IMMEDIATE transaction, so concurrent opens are safe and idempotent. The
// file must be on a local file system (WAL needs shared memory; not NFS).
//
// # Layout
//
// Table sessions holds one row per record: an integer id (the rowid), ref
// (unique), user_id and expires (both indexed), version (for
// compare-and-swap) and blob, the session.MarshalRecord bytes. Table ids
// maps every ID hash (current, secure, obsolete aliases) to its session's
// id, with ON DELETE CASCADE, so deleting a session row deletes its hashes
// in the same statement; Load is one join over two primary keys. Table
// schema_version records the applied migrations.
//
// # Concurrency
//
// A Store is safe for concurrent use. Within a process, all writes go
// through one connection (SQLite allows one writer at a time anyway; a pool
// of writers would only contend on the file lock and spin in the busy
// handler) while reads use a pool of read-only connections, which WAL lets
// run in parallel with the writer. Concurrent merges share one IMMEDIATE
// transaction; a merge alone, on the version its request loaded and
// keeping its ID hashes (nearly every modifying request), is one
// compare-and-swap UPDATE, run through the driver without a context it
// would watch with a goroutine per statement (its only wait is the busy
// handler, bounded by BusyTimeout; see rawexec.go).
//
// # Read cache
//
// Load keeps the records it read in memory (Config.CacheSize) and serves
// one again only while the WAL-index header in the -shm file is exactly as
// it was before the record was read. Every commit, by any connection of any
// process, rewrites that header before it returns, so the cache never
// serves a record that was updated, revoked or deleted since: any commit
// empties it in effect, and the next Load reads the database. Checking
// costs one pread(2) instead of a query. What this store commits goes into
// the cache too, tagged with the header its commit wrote — only when the
// header's change counter moved by exactly one across the write, so no
// other commit landed in between — and the next request's Load of a
// record just written needs no query either.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/sessiond/sessiond/store/internal/sqlstore"
)

// Config configures a Store. Only Path is required.
type Config struct {
	// Path is the database file, created if missing (its directory must
	// exist). A URI (file:...) or ":memory:" is refused: the store opens
	// several connections, which must all reach the same file. It may be a
	// symlink: like SQLite, the read cache follows it to the real file once,
	// when the store opens (do not point it elsewhere while the store runs).
	Path string
	// Timeout bounds every operation, including the wait for the writer
	// connection and for another process's write lock, and each GC batch.
	// Past it the operation fails with session.ErrUnavailable. Default 5s.
	Timeout time.Duration
	// BusyTimeout is how long SQLite waits for a lock held by another
	// connection or process before giving up. Default: Timeout.
	BusyTimeout time.Duration
	// Synchronous is the SQLite synchronous setting: "FULL" (default),
	// "EXTRA" or "NORMAL" (see the package documentation for what NORMAL
	// gives up).
	Synchronous string
	// ReadConns is the size of the read-only connection pool. Default:
	// max(4, GOMAXPROCS).
	ReadConns int
	// GCBatch is the most expired records one GC transaction deletes.
	// Default 1000.
	GCBatch int
	// GCTarget is how long one GC transaction should hold the writer:
	// batch sizes adapt to it (up to GCBatch) and GC pauses at least as
	// long after each; a batch is abandoned as soon as a request waits for
	// the writer (see Store.GC). Default 0.5ms; negative: always GCBatch
	// rows, no pause (fastest collection; requests still interrupt it).
	GCTarget time.Duration
	// CacheSize bounds the in-process read cache, in records: a loaded
	// record is served again from memory only while no transaction has
	// committed to the database since it was read, by any connection of
	// any process (see readCache). Default 10,000; negative: no cache.
	CacheSize int
	// Logger receives open, migration and GC messages (never IDs, hashes or
	// session data). Default slog.Default().
	Logger *slog.Logger
}

const (
	defaultTimeout  = 5 * time.Second
	defaultGCTarget = 500 * time.Microsecond // why: see Store.GC
)

// gcPause is the GC's pause after a batch, in batch durations: requests'
// writes wait for the one writer only while a batch runs (and it yields to
// them), so a pause as long as the batch leaves them the writer at least
// half of the time. A longer one did not help: with three times as long,
// in a sweep of 200,000 rows, an update's p99 was no lower (5.0 against
// 3.9 ms: what it waits for is mostly the disk, see Store.GC) and the
// sweep took 80% longer. None with a negative GCTarget.
func gcPause(target time.Duration) float64 {
	if target > 0 {
		return 1
	}
	return 0
}

func (c *Config) validate() error {
	switch {
	case c.Path == "":
		return errors.New("sqlite: Config.Path is required")
	case c.Path == ":memory:" || strings.HasPrefix(c.Path, "file:"):
		return fmt.Errorf("sqlite: Config.Path %q: want a plain file path (the store opens several connections to it)", c.Path)
	case strings.ContainsAny(c.Path, "?#\x00"):
		return fmt.Errorf("sqlite: Config.Path %q contains '?', '#' or NUL", c.Path)
	case c.Timeout < 0, c.BusyTimeout < 0:
		return errors.New("sqlite: Config.Timeout and BusyTimeout must not be negative")
	case c.ReadConns < 0:
		return fmt.Errorf("sqlite: Config.ReadConns %d is negative", c.ReadConns)
	case c.GCBatch < 0:
		return fmt.Errorf("sqlite: Config.GCBatch %d is negative", c.GCBatch)
	}
	switch strings.ToUpper(c.Synchronous) {
	case "", "FULL", "EXTRA", "NORMAL":
	default:
		return fmt.Errorf("sqlite: Config.Synchronous %q: want FULL, EXTRA or NORMAL", c.Synchronous)
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = c.Timeout
	}
	if c.Synchronous == "" {
		c.Synchronous = "FULL"
	}
	c.Synchronous = strings.ToUpper(c.Synchronous)
	if c.ReadConns == 0 {
		c.ReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	if c.GCBatch == 0 {
		c.GCBatch = sqlstore.DefaultGCBatch
	}
	if c.GCTarget == 0 {
		c.GCTarget = defaultGCTarget
	}
	if c.CacheSize == 0 {
		c.CacheSize = defaultCacheSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Store is a session.Store on a SQLite file. It is safe for concurrent use
// by many goroutines and, on one file, by many processes.
type Store struct {
	w, r    *sql.DB // one writer connection; a pool of read-only ones
	st      statements
	ckpt    *checkpointer
	cache   *readCache   // nil: off
	queries atomic.Int64 // loads that read the database (tests check the cache's use)
	timeout time.Duration
	gcPlan  sqlstore.GCPlan
	backlog sqlstore.Backlog
	sync    string // Config.Synchronous, restored after a GC batch
	gcSync  bool   // GC batches switch to synchronous=NORMAL (sync syncs more)
	log     *slog.Logger
	merges  mergeQueue
	raw     rawStmts
	// uncancelled: the in-place merge may run without a context the
	// driver watches (rawStmts), since BusyTimeout <= Timeout.
	uncancelled bool

	path string     // the database file, absolute
	comp companions // claims, secrets, remember-me keys, revocations (state.go)

	closed    atomic.Bool // set first by Close: failures then read as ErrUnavailable
	closeOnce sync.Once
	closeErr  error
}

// New opens (creating if needed) the database at cfg.Path, applies pending
// schema migrations and prepares the store. ctx bounds the opening.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: Config.Path %q: %w", cfg.Path, err)
	}
	s := &Store{path: abs, timeout: cfg.Timeout, log: cfg.Logger, uncancelled: cfg.BusyTimeout <= cfg.Timeout,
		gcPlan: sqlstore.GCPlan{Max: cfg.GCBatch, Target: max(cfg.GCTarget, 0), Pause: gcPause(cfg.GCTarget)},
		sync:   cfg.Synchronous, gcSync: cfg.Synchronous != "NORMAL"}
	busy := fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds())
	s.w, err = sql.Open("sqlite", dsn(abs, url.Values{
		"_pragma": {busy, "synchronous(" + cfg.Synchronous + ")", "foreign_keys(1)",
			"cache_size(-32768)",            // 32 MiB: GC and inserts touch pages all over the random-keyed indexes
			"wal_autocheckpoint(0)",         // the checkpointer does it, off the request path
			"journal_size_limit(67108864)"}, // truncate a WAL that grew past 64 MiB once checkpointed
		"_txlock": {"immediate"}, // take the write lock at BEGIN: no deadlocked lock upgrades
	}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxIdleTime(0)
	s.w.SetConnMaxLifetime(0)
	if err := s.open(ctx, abs, cfg, busy); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, abs string, cfg Config, busy string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.setWAL(ctx, abs); err != nil {
		return err
	}
	from, to, err := migrate(ctx, s.w)
	if err != nil {
		return s.fail("migrate "+abs, err)
	}
	if from != to {
		s.log.Info("sqlite session store: schema migrated", "path", abs, "from", from, "to", to)
	}
	s.r, err = sql.Open("sqlite", dsn(abs, url.Values{
		"_pragma": {busy, "query_only(1)"},
		"_txlock": {"deferred"},
	}))
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.r.SetMaxOpenConns(cfg.ReadConns)
	s.r.SetMaxIdleConns(cfg.ReadConns)
	s.r.SetConnMaxIdleTime(0)
	if err := s.st.prepare(ctx, s.w, s.r); err != nil {
		return s.fail("prepare", err)
	}
	if s.ckpt, err = startCheckpointer(abs, busy, s.w, s.timeout, s.log); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	if cfg.CacheSize > 0 {
		// The -shm file exists while any connection is open (WAL mode).
		if s.cache, err = openReadCache(abs, cfg.CacheSize); err != nil {
			return fmt.Errorf("sqlite: open %s: read cache: %w", abs, err)
		}
	}
	s.log.Debug("sqlite session store open", "path", abs, "synchronous", cfg.Synchronous, "read_conns", cfg.ReadConns)
	return nil
}

// setWAL switches the file to WAL mode (a persistent setting). SQLite may
// refuse the switch with SQLITE_BUSY at once, without calling the busy
// handler, while another process holds a lock on a file that is not yet in
// WAL mode (two processes opening a new file), so it is retried here until
// the open's deadline.
func (s *Store) setWAL(ctx context.Context, abs string) error {
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		var mode string
		err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("sqlite: open %s: journal_mode is %q, not WAL (file system without shared memory?)", abs, mode)
		case !isBusy(err):
			return s.fail("open "+abs, err)
		}
		select {
		case <-ctx.Done():
			return s.fail("open "+abs, err)
		case <-time.After(wait):
		}
	}
}

// dsn makes a file: URI for abs with the driver parameters in q.
func dsn(abs string, q url.Values) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Close stops the background checkpointer and closes the database (the
// last connection to close checkpoints the WAL). Operations after Close
// fail with session.ErrUnavailable; Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		errs := []error{s.closeCompanions()}
		if s.ckpt != nil {
			errs = append(errs, s.ckpt.close())
		}
		if s.w != nil {
			ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
			s.raw.close(ctx, s.w)
			cancel()
		}
		s.st.close()
		if s.cache != nil {
			errs = append(errs, s.cache.close())
		}
		for _, db := range []*sql.DB{s.r, s.w} {
			if db != nil {
				errs = append(errs, db.Close())
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// op bounds one operation by the store's timeout.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

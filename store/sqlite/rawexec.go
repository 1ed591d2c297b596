package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
)

// rawStmts runs the in-place merge's UPDATE (the statement of nearly every
// modifying request) on the writer connection through the driver, with no
// context the driver can watch.
//
// Given a context that can end, modernc.org/sqlite starts a goroutine per
// statement to interrupt it when the context ends, and sets and clears a
// progress handler around it. On the path of a request that is most of the
// statement's cost: measured on the benchmark machine (BENCHMARKS.md, issue
// 10), about 70 µs of CPU and three thread wake-ups per modifying request,
// against an UPDATE and commit that cost less than that together.
//
// Nothing is lost by not watching: the writer connection is taken under the
// operation's context (database/sql waits for it in a select), and the
// statement itself waits only for another connection's or process's lock,
// which SQLite's busy handler bounds by BusyTimeout. The store uses this
// path only when BusyTimeout is not past Timeout, so Timeout still bounds
// the operation (Store.uncancelled).
//
// The statements are prepared on the driver connection they run on, used
// and finalized only by a holder of that connection (database/sql's
// Conn.Raw: a modernc connection is not safe for concurrent use). The
// writer's one connection lives as long as the store; should database/sql
// ever replace it (it does after driver.ErrBadConn), the statements of the
// old one are dropped unfinalized (finalizing needs the closed connection)
// and prepared again.
type rawStmts struct {
	mu       sync.Mutex
	conn     any // the driver connection the statements belong to
	stmts    map[string]driver.Stmt
	closed   bool
	prepared int // statements prepared so far (tests)
}

// exec runs query with args on the writer connection, taken under ctx, and
// returns the rows it affected.
func (r *rawStmts) exec(ctx context.Context, w *sql.DB, query string, args ...any) (int64, error) {
	conn, err := w.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	named := make([]driver.NamedValue, len(args))
	for i, v := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	var n int64
	err = conn.Raw(func(dc any) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		st, err := r.stmt(dc, query)
		if err != nil {
			return err
		}
		ex, ok := st.(driver.StmtExecContext)
		if !ok {
			return fmt.Errorf("sqlite: driver statement %T cannot execute with a context", st)
		}
		res, err := ex.ExecContext(context.Background(), named)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// stmt returns query prepared on dc. r.mu is held.
func (r *rawStmts) stmt(dc any, query string) (driver.Stmt, error) {
	if r.closed {
		return nil, errors.New("sqlite: store closed")
	}
	if r.conn != dc {
		r.conn, r.stmts = dc, map[string]driver.Stmt{}
	}
	if st, ok := r.stmts[query]; ok {
		return st, nil
	}
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("sqlite: driver connection %T cannot prepare with a context", dc)
	}
	st, err := pc.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	r.stmts[query] = st
	r.prepared++
	return st, nil
}

// close finalizes the statements on the writer connection (taken under
// ctx), before the store closes it; if it cannot be taken, they are left
// for SQLite to free with the connection.
func (r *rawStmts) close(ctx context.Context, w *sql.DB) {
	finalize := func(dc any) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.closed = true
		if dc != nil && r.conn == dc {
			for _, st := range r.stmts {
				st.Close()
			}
		}
		r.conn, r.stmts = nil, nil
		return nil
	}
	conn, err := w.Conn(ctx)
	if err != nil {
		finalize(nil)
		return
	}
	defer conn.Close()
	conn.Raw(finalize)
}

// value is p's value for the driver: nil for a nil pointer.
func value[T any](p *T) driver.Value {
	if p == nil {
		return nil
	}
	return *p
}

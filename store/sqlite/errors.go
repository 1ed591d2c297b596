package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sessiond/sessiond/session"
)

// fail maps an error of operation op to the session sentinels, wrapping
// each once:
//   - a unique or primary key violation is session.ErrCollision;
//   - a lock held past the busy timeout, an I/O error, a full disk, a file
//     that cannot be opened or is not a database, an interrupted statement,
//     an expired context or a closed Store is session.ErrUnavailable (the
//     store cannot answer);
//   - sentinels returned by the operation itself (ErrNotFound, ErrConflict)
//     pass through;
//   - anything else (a SQL bug, a bad value) is a plain error.
func (s *Store) fail(op string, err error) error {
	for _, sentinel := range []error{session.ErrNotFound, session.ErrConflict, session.ErrCollision, session.ErrUnavailable} {
		if errors.Is(err, sentinel) {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
	}
	if s.closed.Load() || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("sqlite: %s: %w: %w", op, session.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	switch code := se.Code(); code & 0xff {
	case sqlite3.SQLITE_CONSTRAINT:
		if code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || code == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
			return fmt.Errorf("sqlite: %s: %w", op, session.ErrCollision)
		}
	case sqlite3.SQLITE_TOOBIG:
		return fmt.Errorf("sqlite: %s: %w: %w", op, session.ErrTooLarge, err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH, sqlite3.SQLITE_NOLFS, sqlite3.SQLITE_PROTOCOL,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_ABORT:
		return fmt.Errorf("sqlite: %s: %w: %w", op, session.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// isBusy reports a lock conflict with another connection or process.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED)
}

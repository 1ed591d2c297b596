package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] brings the schema from version i to i+1. Never edit a
// released migration; append a new one.
var migrations = [][]string{
	{
		// sessions: a rowid table (blobs can be a few KB, which WITHOUT
		// ROWID handles badly) whose id is the rowid, so the ID index
		// points straight at the row; ref is the unique external key.
		// user_id and expires are NULL for anonymous and never-expiring
		// records, and the partial indexes leave those rows out.
		`CREATE TABLE sessions (
			id      INTEGER PRIMARY KEY,
			ref     TEXT    NOT NULL UNIQUE,
			user_id TEXT,
			expires INTEGER,
			version INTEGER NOT NULL,
			blob    BLOB    NOT NULL
		)`,
		`CREATE INDEX sessions_user ON sessions (user_id) WHERE user_id IS NOT NULL`,
		`CREATE INDEX sessions_expires ON sessions (expires) WHERE expires IS NOT NULL`,
		// ids: every ID hash of a record (current, secure, aliases). Small
		// rows looked up by hash, so WITHOUT ROWID. The index on sid serves
		// the cascade and Update's read of a record's hashes.
		`CREATE TABLE ids (
			hash BLOB    NOT NULL PRIMARY KEY,
			sid  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE
		) WITHOUT ROWID`,
		`CREATE INDEX ids_sid ON ids (sid)`,
	},
}

// SchemaVersion is the schema version this build creates and understands.
const SchemaVersion = 1

// migrate applies pending migrations in one IMMEDIATE transaction (the
// writer's _txlock): a second process opening the file at the same time
// waits for the lock, then finds the schema current and does nothing.
func migrate(ctx context.Context, db *sql.DB) (from, to int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return 0, 0, err
	}
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&v); err != nil {
		return 0, 0, err
	}
	from = int(v.Int64)
	if from > len(migrations) {
		return from, from, fmt.Errorf("database schema version %d is newer than this build supports (%d); upgrade sessiond", from, len(migrations))
	}
	if from == len(migrations) {
		return from, from, nil // nothing to do; Rollback ends the read
	}
	for i := from; i < len(migrations); i++ {
		for _, stmt := range migrations[i] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return from, i, fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return from, from, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, len(migrations)); err != nil {
		return from, from, err
	}
	if err := tx.Commit(); err != nil {
		return from, from, err
	}
	return from, len(migrations), nil
}

// statements are prepared once per connection by database/sql and reused.
// The compare-and-swap UPDATEs, prepared as statements and run raw by the
// in-place merge (rawStmts).
const (
	sqlUpdate = `UPDATE sessions SET user_id = ?, expires = ?, version = ?, blob = ?
			WHERE ref = ? AND version = ? RETURNING id`
	sqlUpdateSameUser = `UPDATE sessions SET expires = ?, version = ?, blob = ?
			WHERE ref = ? AND version = ? RETURNING id`
)

type statements struct {
	load, listUser                 *sql.Stmt // read pool
	insSession, insID              *sql.Stmt // writer
	update, version, hashes, delID *sql.Stmt
	updateSameUser                 *sql.Stmt // update without touching user_id (nor its index)
	delSession, current            *sql.Stmt
	expired                        *sql.Stmt // read pool: GC's backlog
}

func (st *statements) prepare(ctx context.Context, w, r *sql.DB) error {
	for _, p := range []struct {
		db   *sql.DB
		dst  **sql.Stmt
		text string
	}{
		{r, &st.load, `SELECT s.blob FROM ids i JOIN sessions s ON s.id = i.sid WHERE i.hash = ?`},
		{r, &st.listUser, `SELECT blob FROM sessions WHERE user_id = ?`},
		{w, &st.insSession, `INSERT INTO sessions (ref, user_id, expires, version, blob) VALUES (?, ?, ?, ?, ?) RETURNING id`},
		{w, &st.insID, `INSERT INTO ids (hash, sid) VALUES (?, ?)`},
		{w, &st.update, sqlUpdate},
		{w, &st.updateSameUser, sqlUpdateSameUser},
		{w, &st.version, `SELECT version FROM sessions WHERE ref = ?`},
		{w, &st.current, `SELECT blob FROM sessions WHERE ref = ?`},
		{w, &st.hashes, `SELECT hash FROM ids WHERE sid = ?`},
		{w, &st.delID, `DELETE FROM ids WHERE hash = ?`},
		{w, &st.delSession, `DELETE FROM sessions WHERE ref = ?`},
		{r, &st.expired, `SELECT count(*) FROM sessions WHERE expires <= ?`},
	} {
		stmt, err := p.db.PrepareContext(ctx, p.text)
		if err != nil {
			return err
		}
		*p.dst = stmt
	}
	return nil
}

func (st *statements) close() {
	for _, s := range []*sql.Stmt{st.load, st.listUser, st.insSession, st.insID, st.update,
		st.updateSameUser, st.version, st.hashes, st.delID, st.delSession, st.current, st.expired} {
		if s != nil {
			s.Close()
		}
	}
}

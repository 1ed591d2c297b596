package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// migrations[i] brings the schema from version i to i+1; {s}, {ids} and
// {v} stand for the quoted sessions, ids and schema_version tables, {p} for
// the bare prefix (index names). Never edit a released migration; append.
var migrations = [][]string{
	{
		// blob is the record without its data; kv holds the data as a jsonb
		// object (keys and values escaped, see escapeKV), so a merge changes
		// keys in place; requests is the request count (RotateRequests),
		// counted up in place by merges.
		`CREATE TABLE {s} (
			id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			ref      text        NOT NULL,
			user_id  text,
			expires  timestamptz,
			version  bigint      NOT NULL,
			blob     bytea       NOT NULL,
			kv       jsonb       NOT NULL,
			requests integer     NOT NULL,
			CONSTRAINT {p}sessions_ref_key UNIQUE (ref)
		)`,
		// NULL user (anonymous) and NULL expires (never) stay out of the
		// indexes; queries on user_id = $1 and expires <= $1 imply NOT NULL.
		`CREATE INDEX {p}sessions_user_idx ON {s} (user_id) WHERE user_id IS NOT NULL`,
		`CREATE INDEX {p}sessions_expires_idx ON {s} (expires) WHERE expires IS NOT NULL`,
		`CREATE TABLE {ids} (
			hash bytea  NOT NULL PRIMARY KEY,
			sid  bigint NOT NULL REFERENCES {s} (id) ON DELETE CASCADE
		)`,
		`CREATE INDEX {p}ids_sid_idx ON {ids} (sid)`,
		mergeFunction,
	},
}

// SchemaVersion is the schema version this build creates and understands.
const SchemaVersion = 1

// migrateTimeout bounds New's migration (unless its ctx ends first): it may
// wait for another process's migration, which a request never does.
const migrateTimeout = 30 * time.Second

// queries holds the SQL text with this store's table names filled in.
// pgx prepares and caches each statement per connection.
type queries struct {
	expand                                                                                func(string) string
	loadOne, loadMany, create, update, delete, listUser, gcBatch, expired, version, merge string
	mergeAtBase, gcCandidates                                                             string
}

func newQueries(schema, prefix string) queries {
	r := strings.NewReplacer(
		"{s}", ident(schema, prefix+"sessions"),
		"{ids}", ident(schema, prefix+"ids"),
		"{v}", ident(schema, prefix+"schema_version"),
		"{merge}", ident(schema, prefix+"merge"),
		"{p}", prefix,
	)
	q := queries{expand: r.Replace}
	// loadOne is loadMany for one hash: PostgreSQL's generic plan for
	// = ANY($1) is a bitmap scan, about three times the work of = $1.
	q.loadOne = r.Replace(`SELECT i.hash, s.blob, s.kv, s.version, s.requests FROM {ids} i JOIN {s} s ON s.id = i.sid WHERE i.hash = $1`)
	q.loadMany = r.Replace(`SELECT i.hash, s.blob, s.kv, s.version, s.requests FROM {ids} i JOIN {s} s ON s.id = i.sid WHERE i.hash = ANY($1::bytea[])`)
	q.listUser = r.Replace(`SELECT blob, kv, version, requests FROM {s} WHERE user_id = $1`)
	q.merge = r.Replace(`SELECT {merge}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`)
	// The common merge (Merger rule 2, the ID rows unchanged): a plain
	// compare-and-swap UPDATE storing Next, without the function's
	// interpreter, row lock and jsonb merge. A concurrent update of the row
	// makes it wait for the row lock and re-check version = $7 on the new
	// row.
	q.mergeAtBase = r.Replace(`UPDATE {s} SET user_id = $2, expires = $3, version = $4, blob = $5, kv = $6, requests = $8
		WHERE ref = $1 AND version = $7`)
	q.delete = r.Replace(`DELETE FROM {s} WHERE ref = $1`)
	// The ID rows reference the session row inserted by the same statement:
	// foreign keys are checked at its end.
	q.create = r.Replace(`WITH s AS (
			INSERT INTO {s} (ref, user_id, expires, version, blob, kv, requests) VALUES ($1, $2, $3, $4, $5, $7, $8) RETURNING id)
		INSERT INTO {ids} (hash, sid) SELECT h, s.id FROM s, unnest($6::bytea[]) AS h`)
	// Compare-and-swap plus the ID index in one statement. All parts see the
	// snapshot from before it, so: del removes the hashes the record no
	// longer lists, ins adds those it did not have (a hash of another record
	// is a unique violation that undoes everything), and the outer SELECT
	// reports whether upd matched and, if not, the stored version (NULL: no
	// such record). A concurrent update of the same record makes upd wait
	// for its row lock and then re-check version = $6 on the new row.
	q.update = r.Replace(`WITH upd AS (
			UPDATE {s} SET user_id = $2, expires = $3, version = $4, blob = $5, kv = $8, requests = $9
			WHERE ref = $1 AND version = $6 RETURNING id),
		del AS (
			DELETE FROM {ids} WHERE sid IN (SELECT id FROM upd) AND NOT (hash = ANY ($7::bytea[]))),
		ins AS (
			INSERT INTO {ids} (hash, sid)
			SELECT h, upd.id FROM upd, unnest($7::bytea[]) AS h
			WHERE NOT EXISTS (SELECT 1 FROM {ids} x WHERE x.hash = h AND x.sid = upd.id))
		SELECT EXISTS (SELECT 1 FROM upd), (SELECT version FROM {s} WHERE ref = $1)`)
	// GC reads the ids of expired records a chunk at a time (see Store.GC)
	// and deletes them by primary key, checking again that each is still
	// expired (a request may have renewed it since). SKIP LOCKED: rows a
	// request is updating are left for the next run.
	q.gcCandidates = r.Replace(`SELECT id FROM {s} WHERE expires <= $1 ORDER BY expires LIMIT $2`)
	q.gcBatch = r.Replace(`DELETE FROM {s} WHERE id IN (
			SELECT id FROM {s} WHERE id = ANY($1::bigint[]) AND expires <= $2 FOR UPDATE SKIP LOCKED)`)
	q.expired = r.Replace(`SELECT count(*) FROM {s} WHERE expires <= $1`)
	q.version = r.Replace(`SELECT max(version) FROM {v}`)
	return q
}

// migrate applies pending migrations in one transaction that first takes
// a transaction-scoped advisory lock named after the schema: processes
// starting together run it one after the other, and the later ones find
// nothing to do. A lost connection releases the lock and rolls back.
func (s *Store) migrate(ctx context.Context, schema string) (from, to int, err error) {
	ctx, cancel := context.WithTimeout(ctx, max(s.timeout, migrateTimeout))
	defer cancel()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// statement_timeout is the per-operation one; DDL may wait longer
		// for the lock than a request should.
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, advisoryKey("migrate", schema)); err != nil {
			return err
		}
		if schema != "" {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+ident(schema)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, s.q.expand(`CREATE TABLE IF NOT EXISTS {v} (version integer NOT NULL)`)); err != nil {
			return err
		}
		var v *int
		if err := tx.QueryRow(ctx, s.q.version).Scan(&v); err != nil {
			return err
		}
		if v != nil {
			from = *v
		}
		to = from
		if from > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this build supports (%d); upgrade sessiond", from, len(migrations))
		}
		for i := from; i < len(migrations); i++ {
			for _, stmt := range migrations[i] {
				if _, err := tx.Exec(ctx, s.q.expand(stmt)); err != nil {
					return fmt.Errorf("migration %d: %w", i+1, err)
				}
			}
		}
		if from == len(migrations) {
			return nil
		}
		if _, err := tx.Exec(ctx, s.q.expand(`DELETE FROM {v}`)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, s.q.expand(`INSERT INTO {v} (version) VALUES ($1)`), len(migrations)); err != nil {
			return err
		}
		to = len(migrations)
		return nil
	})
	if err != nil {
		return from, from, err
	}
	return from, to, nil
}

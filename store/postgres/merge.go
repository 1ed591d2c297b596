package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/internal/sqlstore"
)

// mergeFunction is session.Merger's rules as one plpgsql function, so a
// merge is one statement (one round trip) that locks the row, checks, and
// writes. Answers OK, NOTFOUND or CONFLICT; a hash of another record
// raises unique_violation (ErrCollision).
const mergeFunction = `CREATE FUNCTION {merge}(
		p_ref text, p_base bigint, p_meta boolean, p_base_user text, p_base_hashes bytea[],
		p_user text, p_expires timestamptz, p_blob bytea, p_hashes bytea[],
		p_clear boolean, p_keep text, p_del text[], p_set jsonb, p_requests integer, p_count boolean) RETURNS text
	LANGUAGE plpgsql AS $f$
	DECLARE
		r record;
		nkv jsonb;
		whole boolean;
	BEGIN
		SELECT id, version, user_id, kv, requests INTO r FROM {s} WHERE ref = p_ref FOR UPDATE;
		IF NOT FOUND THEN RETURN 'NOTFOUND'; END IF;
		whole := r.version = p_base OR p_meta;
		-- Rule 3 (a meta change: the identity, hashes and user) and rule 4
		-- (a data change: the user) on a newer version.
		IF r.version <> p_base AND (r.user_id IS DISTINCT FROM p_base_user OR p_meta AND (
				EXISTS (SELECT hash FROM {ids} WHERE sid = r.id EXCEPT SELECT unnest(p_base_hashes))
				OR EXISTS (SELECT unnest(p_base_hashes) EXCEPT SELECT hash FROM {ids} WHERE sid = r.id))) THEN
			RETURN 'CONFLICT';
		END IF;
		nkv := r.kv;
		IF p_clear THEN
			SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb) INTO nkv
			FROM jsonb_each(r.kv) WHERE p_keep <> '' AND starts_with(key, p_keep);
		END IF;
		nkv := (nkv - p_del) || p_set;
		IF whole THEN
			UPDATE {s} SET user_id = p_user, expires = p_expires, version = r.version + 1,
				blob = p_blob, kv = nkv,
				requests = CASE WHEN p_count THEN r.requests + 1 ELSE p_requests END
			WHERE id = r.id;
			-- The stored hashes are the base's (same version, or checked
			-- above): the ID rows change only if Next's hashes differ.
			IF p_hashes IS DISTINCT FROM p_base_hashes THEN
				DELETE FROM {ids} WHERE sid = r.id AND NOT (hash = ANY (p_hashes));
				INSERT INTO {ids} (hash, sid) SELECT h, r.id FROM unnest(p_hashes) AS h
				WHERE NOT EXISTS (SELECT 1 FROM {ids} x WHERE x.hash = h AND x.sid = r.id);
			END IF;
		ELSIF p_count OR nkv IS DISTINCT FROM r.kv THEN
			UPDATE {s} SET version = r.version + 1, kv = nkv,
				requests = CASE WHEN p_count THEN r.requests + 1 ELSE r.requests END
			WHERE id = r.id;
		END IF;
		RETURN 'OK';
	END
	$f$`

// Merge implements session.Merger. A change set that keeps its base's ID
// hashes is first tried as a compare-and-swap UPDATE storing Next (rule 2:
// the stored record is most often the one the request loaded); otherwise,
// or if the stored record has moved on, one statement calls mergeFunction.
func (s *Store) Merge(ctx context.Context, c *session.Change) error {
	row, kv, err := newRow(c.Next)
	if err != nil {
		return fmt.Errorf("postgres: merge: %w", err)
	}
	var baseUser *string
	if c.Base.User != "" {
		baseUser = &c.Base.User
	}
	set := make(map[string]string, len(c.Set))
	for k, v := range c.Set {
		set[escapeKV(k)] = escapeKV(v)
	}
	del := make([]string, len(c.Del))
	for i, k := range c.Del {
		del[i] = escapeKV(k)
	}
	conn, octx, release, err := s.conn(ctx, "merge")
	if err != nil {
		return err
	}
	if sqlstore.KeepsIDs(c) {
		tag, err := conn.Exec(octx, s.q.mergeAtBase, row.Ref, row.User, expires(row.Expires),
			row.Version, row.Blob, kv, int64(c.Base.Version), c.Next.Requests)
		if err != nil {
			release()
			return s.fail("merge", err)
		}
		if tag.RowsAffected() == 1 {
			release()
			return nil
		}
	}
	var word string
	err = conn.QueryRow(octx, s.q.merge, row.Ref, int64(c.Base.Version), c.Meta, baseUser,
		sqlstore.Hashes(c.Base), row.User, expires(row.Expires), row.Blob, row.Hashes,
		c.Clear, escapeKV(c.Keep), del, set, c.Next.Requests, c.Count && !c.Rotates()).Scan(&word)
	release()
	if err != nil {
		return s.fail("merge", err)
	}
	switch word {
	case "OK":
		return nil
	case "NOTFOUND":
		return fmt.Errorf("postgres: merge: %w", session.ErrNotFound)
	case "CONFLICT":
		return fmt.Errorf("postgres: merge: %w", session.ErrConflict)
	}
	return fmt.Errorf("postgres: merge: unexpected answer %q", word)
}

// newRow is sqlstore.NewRow for this store's layout: the blob without the
// data, and the data as the kv column.
func newRow(rec *session.Record) (sqlstore.Row, map[string]string, error) {
	if rec == nil {
		row, err := sqlstore.NewRow(nil)
		return row, nil, err
	}
	meta := *rec
	meta.Data = nil
	row, err := sqlstore.NewRow(&meta)
	if err != nil {
		return row, nil, err
	}
	kv := make(map[string]string, len(rec.Data))
	for k, v := range rec.Data {
		kv[escapeKV(k)] = escapeKV(v)
	}
	return row, kv, nil
}

// decodeRow makes a record from the blob, kv (JSON text), version and
// requests columns.
func decodeRow(blob, kvText []byte, version int64, requests int32) (*session.Record, error) {
	rec, err := sqlstore.Decode(blob)
	if err != nil {
		return nil, err
	}
	kv, err := decodeKV(kvText)
	if err != nil {
		return nil, err
	}
	if kv != nil {
		if rec.Data == nil {
			rec.Data = make(map[string]string, len(kv))
		}
		for k, v := range kv {
			dk, ok1 := unescapeKV(k)
			dv, ok2 := unescapeKV(v)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("corrupt kv column: bad escape")
			}
			rec.Data[dk] = dv
		}
	}
	rec.Version = uint64(version) // a merge that keeps the blob counts the columns up
	rec.Requests = int(requests)
	return rec, nil
}

// decodeRows reads (blob, kv, version, requests) rows.
func decodeRows(rows pgx.Rows) ([]*session.Record, error) {
	var out []*session.Record
	for rows.Next() {
		var blob, kv []byte
		var v int64
		var n int32
		if err := rows.Scan(&blob, &kv, &v, &n); err != nil {
			return nil, err
		}
		rec, err := decodeRow(blob, kv, v, n)
		if err != nil {
			return nil, corruptError{err}
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

// corruptError is a stored row that did not decode: not a store failure.
type corruptError struct{ err error }

func (e corruptError) Error() string { return e.err.Error() }

// escapeKV makes any string storable as a jsonb key or value (jsonb takes
// neither NUL nor invalid UTF-8): '%', control bytes, DEL and every byte
// past ASCII become %XX. Printable ASCII stays, so prefixes such as
// "secure." keep their meaning.
func escapeKV(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func needsEscape(c byte) bool { return c == '%' || c < 0x20 || c >= 0x7f }

func unescapeKV(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		var x [1]byte
		if _, err := hex.Decode(x[:], []byte(s[i+1:i+3])); err != nil {
			return "", false
		}
		b.WriteByte(x[0])
		i += 2
	}
	return b.String(), true
}

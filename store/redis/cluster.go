package redis

import (
	"context"
	"errors"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/session"
)

// Cluster mode. A script may only touch keys of one slot, and an ID key's
// slot comes from the hash alone, so no script can see a record and its ID
// keys together. The operations below are ordered so that what a reader
// can observe is always safe:
//
//   - an ID key is claimed (SET NX semantics) before the record that lists
//     it is written, and released after the record stops listing it;
//   - Load accepts a record only if it lists the hash it was reached by
//     (see decode), so an ID key left by a crash between two steps leads
//     nowhere, and expires with its TTL;
//   - a user's index gains an entry before the record names the user, and
//     loses it only once the record is gone or names another user and the
//     entry's score (the record's expiry when it was added) has passed, so
//     the index is a superset of the truth and "revoke all" finds every
//     record.

// call is one command in a pipeline: a script, or (sc nil) the plain
// command in args.
type call struct {
	sc   *goredis.Script
	keys []string
	args []any
	cmd  *goredis.Cmd
}

// pipe runs the calls in one pipeline (go-redis sends each node its share
// concurrently: one network round). A script call that met NOSCRIPT did
// not run; it is run again alone with the EVAL fallback. It returns the
// first error that is not a script's own answer.
func (s *Store) pipe(ctx context.Context, calls []*call) error {
	if len(calls) == 0 {
		return nil
	}
	p := s.client.Pipeline()
	for _, c := range calls {
		if c.sc == nil {
			c.cmd = p.Do(ctx, c.args...)
		} else {
			c.cmd = c.sc.EvalSha(ctx, p, c.keys, c.args...)
		}
	}
	_, _ = p.Exec(ctx) // errors are read per command below
	var first error
	for _, c := range calls {
		if err := c.cmd.Err(); c.sc != nil && err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			c.cmd = c.sc.Run(ctx, s.client, c.keys, c.args...)
		}
		if err := c.cmd.Err(); err != nil && err != goredis.Nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Store) clusterLoad(ctx context.Context, h session.Hash) ([]string, error) {
	if ref, ok := s.hints.get(h); ok {
		pairs, err := s.hgetall(ctx, s.recordKey(ref))
		if err != nil || lists(pairs, h) {
			return pairs, err
		}
		s.hints.drop(h) // the hint no longer holds: ask the ID key
	}
	ref, err := s.client.Get(ctx, s.idKey(h)).Result()
	if err != nil {
		return nil, err
	}
	return s.hgetall(ctx, s.recordKey(ref))
}

// hgetall reads a hash as name/value pairs (nil if absent).
func (s *Store) hgetall(ctx context.Context, key string) ([]string, error) {
	m, err := s.client.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	return pairsOfMap(m), nil
}

func pairsOfMap(m map[string]string) []string {
	pairs := make([]string, 0, 2*len(m))
	for k, v := range m {
		pairs = append(pairs, k, v)
	}
	return pairs
}

// claims are the calls that make w's ID keys name w.ref (scriptClaim: SET
// NX semantics, or a TTL refresh of a key that already names it) and,
// last, the touch of w's user index if it has a user.
func (s *Store) claims(w *write) []*call {
	calls := make([]*call, 0, len(w.idKeys)+1)
	for _, k := range w.idKeys {
		calls = append(calls, &call{sc: scriptClaim, keys: []string{k}, args: []any{w.ref, w.ttl}})
	}
	if w.user != "" {
		calls = append(calls, &call{sc: scriptTouchUser, keys: []string{s.userKey(w.user)}, args: []any{w.ref, w.score, w.now}})
	}
	return calls
}

// claimed reads the answers of claims: the keys claimed afresh (to
// release on failure), whether any key is held by another record, the keys
// already naming w.ref, and the keys whose claim got no answer.
type claimed struct {
	fresh, ours, failed []string
	taken               bool
	touchFailed         bool
}

func readClaims(w *write, calls []*call) claimed {
	var c claimed
	for i, k := range w.idKeys {
		switch n, err := calls[i].cmd.Int(); {
		case err != nil:
			c.failed = append(c.failed, k)
		case n == 1:
			c.fresh = append(c.fresh, k)
		case n == 0:
			c.ours = append(c.ours, k)
		default:
			c.taken = true
		}
	}
	if w.user != "" {
		c.touchFailed = calls[len(calls)-1].cmd.Err() != nil
	}
	return c
}

// release deletes ID keys that still name ref. It runs after the outcome
// is decided, so it gets a context of its own: a request deadline that
// just passed must not leave claims behind when it can be helped.
func (s *Store) release(ctx context.Context, ref string, keys []string, extra ...*call) {
	if len(keys)+len(extra) == 0 {
		return
	}
	ctx, cancel := s.opContext(context.WithoutCancel(ctx))
	defer cancel()
	calls := extra
	for _, k := range keys {
		calls = append(calls, &call{sc: scriptDelIfEq, keys: []string{k}, args: []any{ref}})
	}
	if err := s.pipe(ctx, calls); err != nil {
		s.log.Warn("redis: keys of a record not released; they lead nowhere and expire with their TTL",
			"ref", ref, "keys", len(calls), "err", err)
	}
}

// clusterCreate: round 1 claims every ID key (and adds the user index
// entry); round 2 writes the record if its key is free. A collision or a
// failure releases the fresh claims.
func (s *Store) clusterCreate(ctx context.Context, w *write) error {
	calls := s.claims(w)
	err := s.pipe(ctx, calls)
	c := readClaims(w, calls)
	if err != nil || c.taken || len(c.ours) > 0 {
		s.release(ctx, w.ref, c.fresh)
		if err != nil {
			return fail("create", err)
		}
		// An ID key already naming w.ref means the ref is in use:
		// a collision either way.
		return status("create", "COLLISION")
	}
	n, err := scriptCreateRecord.Run(ctx, s.client, []string{s.recordKey(w.ref)},
		append([]any{w.data, w.ver, w.ids, w.user, w.exp, w.ttl}, w.fields...)...).Int()
	if err != nil || n != 1 {
		s.release(ctx, w.ref, c.fresh)
		if err != nil {
			return fail("create", err)
		}
		return status("create", "COLLISION")
	}
	return nil
}

func (s *Store) cas(w *write, prev string, fast bool) *call {
	f := "0"
	if fast {
		f = "1"
	}
	return &call{sc: scriptCAS, keys: []string{s.recordKey(w.ref)},
		args: append([]any{w.data, w.ver, w.ids, w.user, w.exp, w.ttl, prev, f}, w.fields...)}
}

func casAnswer(c *call) (word, oldIDs string, err error) {
	v, err := c.cmd.StringSlice()
	if err != nil {
		return "", "", err
	}
	if len(v) > 0 {
		word = v[0]
	}
	if len(v) == 3 {
		oldIDs = v[1]
	}
	return word, oldIDs, nil
}

// clusterUpdate. Round 1 sends, side by side, a CAS that writes only if
// the record keeps its IDs and user (else it answers CHANGED) and the
// claims of every ID key plus the user index touch. For an update that
// keeps IDs and user (the common case) the claims are TTL refreshes and
// the update is done in that one round. For one that changes them, round
// 1 has made the new ID keys name the record before round 2 swaps it in;
// round 3, only if the record dropped IDs, releases their keys.
func (s *Store) clusterUpdate(ctx context.Context, w *write, prev uint64) error {
	pv := strconv.FormatUint(prev, 10)
	return s.clusterWrite(ctx, w, "update", func(fast bool) *call { return s.cas(w, pv, fast) })
}

// clusterWrite is clusterUpdate's protocol for any script in the record's
// slot that answers like scriptCAS (mk makes its fast or full call).
func (s *Store) clusterWrite(ctx context.Context, w *write, op string, mk func(fast bool) *call) error {
	fast := mk(true)
	claims := s.claims(w)
	perr := s.pipe(ctx, append([]*call{fast}, claims...))
	c := readClaims(w, claims)
	word, _, err := casAnswer(fast)
	if err != nil {
		s.release(ctx, w.ref, c.fresh)
		return fail(op, err)
	}
	switch word {
	case "OK":
		s.repair(ctx, w, c)
		return nil
	case "CHANGED":
	default: // NOTFOUND, CONFLICT
		s.release(ctx, w.ref, c.fresh)
		return status(op, word)
	}
	if perr != nil || c.taken {
		s.release(ctx, w.ref, c.fresh)
		if perr != nil {
			return fail(op, perr)
		}
		return status(op, "COLLISION")
	}
	slow := mk(false)
	err = s.pipe(ctx, []*call{slow})
	word, oldIDs, cerr := casAnswer(slow)
	if err == nil {
		err = cerr
	}
	if err != nil || word != "OK" {
		s.release(ctx, w.ref, c.fresh)
		if err != nil {
			return fail(op, err)
		}
		return status(op, word)
	}
	var stale []string
	for j := 0; j+64 <= len(oldIDs); j += 64 {
		if hex := oldIDs[j : j+64]; !containsHex(w.ids, hex) {
			stale = append(stale, s.prefix+"i:"+hex)
		}
	}
	s.release(ctx, w.ref, stale)
	return nil
}

// repair finishes a fast-path update whose record is written but whose
// claims did not all answer: an ID key left unrefreshed could expire
// before its record, and a user index that expires before its record
// would hide the record from "revoke all". A key held by another record
// cannot happen unless a hash was reused; it is logged.
func (s *Store) repair(ctx context.Context, w *write, c claimed) {
	if c.taken {
		s.log.Error("redis: an updated record lists an ID hash that another record holds; that ID reads as not found", "ref", w.ref)
	}
	if len(c.failed) == 0 && !c.touchFailed {
		return
	}
	rw := *w
	rw.idKeys = c.failed
	if !c.touchFailed {
		rw.user = ""
	}
	ctx, cancel := s.opContext(context.WithoutCancel(ctx))
	defer cancel()
	calls := s.claims(&rw)
	err := s.pipe(ctx, calls)
	if rc := readClaims(&rw, calls); err != nil || rc.taken {
		s.log.Warn("redis: an updated record's ID keys or user index could not be refreshed",
			"ref", w.ref, "id_keys", len(c.failed), "user_index", c.touchFailed, "err", err)
	}
}

func containsHex(ids, hex string) bool {
	for j := 0; j+64 <= len(ids); j += 64 {
		if ids[j:j+64] == hex {
			return true
		}
	}
	return false
}

// clusterDelete: round 1 deletes the record in its slot (from then on its
// ID keys lead nowhere); round 2 releases its ID keys and index entry.
func (s *Store) clusterDelete(ctx context.Context, ref string) error {
	v, err := scriptDeleteRecord.Run(ctx, s.client, []string{s.recordKey(ref)}).StringSlice()
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	if err != nil {
		return fail("delete", err)
	}
	if len(v) != 2 {
		return errors.New("redis: delete: unexpected script answer")
	}
	s.release(ctx, ref, s.idKeysOf(v[0]), s.unindex(v[1], ref)...)
	return nil
}

// idKeysOf turns a stored ids field into ID keys.
func (s *Store) idKeysOf(ids string) []string {
	keys := make([]string, 0, len(ids)/64)
	for j := 0; j+64 <= len(ids); j += 64 {
		keys = append(keys, s.prefix+"i:"+ids[j:j+64])
	}
	return keys
}

// unindex is the ZREM of a deleted record's index entry (none without a
// user). Safe unconditionally: the record is gone and refs are not reused.
func (s *Store) unindex(user, ref string) []*call {
	if user == "" {
		return nil
	}
	return []*call{{args: []any{"zrem", s.userKey(user), ref}}}
}

package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/session"
)

// ListUser implements session.Store. On a single node it is one script that
// also drops the index entries whose record is gone (expired by its TTL)
// or names another user. In Cluster mode it reads the index, then the
// records in one pipelined round, and drops such entries only once their
// score has passed (see cluster.go): three rounds at most.
func (s *Store) ListUser(ctx context.Context, user string) ([]*session.Record, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	now := time.Now()
	var raw [][]string
	var err error
	if s.cluster {
		raw, err = s.clusterList(ctx, user, now)
	} else {
		var v []any
		v, err = scriptList.Run(ctx, s.client, []string{s.userKey(user)}, s.prefix, user).Slice()
		raw = pairsOf(v)
	}
	if err != nil {
		return nil, fail("list user", err)
	}
	out := make([]*session.Record, 0, len(raw))
	for _, pairs := range raw {
		rec, err := unmarshal(pairs)
		if err != nil {
			return nil, fmt.Errorf("redis: list user: %w", err)
		}
		if rec.User == user && !rec.ExpiredAt(now) {
			out = append(out, rec)
		}
	}
	return out, nil
}

// pairsOf converts a script's array of HGETALL answers.
func pairsOf(v []any) [][]string {
	out := make([][]string, 0, len(v))
	for _, x := range v {
		arr, _ := x.([]any)
		pairs := make([]string, 0, len(arr))
		for _, e := range arr {
			str, _ := e.(string)
			pairs = append(pairs, str)
		}
		out = append(out, pairs)
	}
	return out
}

func (s *Store) clusterList(ctx context.Context, user string, now time.Time) ([][]string, error) {
	uk := s.userKey(user)
	refs, err := s.client.ZRange(ctx, uk, 0, -1).Result()
	if err != nil || len(refs) == 0 {
		return nil, err
	}
	p := s.client.Pipeline()
	cmds := make([]*goredis.MapStringStringCmd, len(refs))
	for i, ref := range refs {
		cmds[i] = p.HGetAll(ctx, s.recordKey(ref))
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, err
	}
	var out [][]string
	var dead []any
	for i, c := range cmds {
		v := c.Val()
		if _, ok := v["d"]; ok && v["u"] == user {
			out = append(out, pairsOfMap(v))
		} else {
			dead = append(dead, refs[i])
		}
	}
	if len(dead) > 0 {
		args := append([]any{now.UnixMicro()}, dead...)
		if err := scriptZremIf.Run(ctx, s.client, []string{uk}, args...).Err(); err != nil {
			s.log.Warn("redis: stale index entries left for GC", "entries", len(dead), "err", err)
		}
	}
	return out, nil
}

// GC implements session.Store. Redis already drops expired keys by TTL;
// GC deletes records whose Expires is at or before now even if their TTL
// has not fired (a now ahead of the clock, or clock skew), and drops index
// entries whose record is gone. It walks the keyspace with SCAN MATCH
// <prefix>* in batches of GCBatch (on every master in Cluster mode), one
// script per batch on a single node, so requests never wait behind a long
// command. The count is records deleted plus index entries dropped for
// records Redis had already expired (each dead record counts once).
//
// In Cluster mode GC needs a *goredis.ClusterClient to reach every master;
// with Config.Cluster on another client it scans what that client's SCAN
// reaches.
func (s *Store) GC(ctx context.Context, now time.Time) (int, error) {
	thr := min(now.UnixMicro(), time.Now().UnixMicro())
	var n atomic.Int64
	var err error
	if cc, ok := s.client.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			return s.gcNode(ctx, node, now.UnixMicro(), thr, &n)
		})
	} else {
		err = s.gcNode(ctx, s.client, now.UnixMicro(), thr, &n)
	}
	if err != nil {
		return int(n.Load()), fail("gc", err)
	}
	return int(n.Load()), nil
}

func (s *Store) gcNode(ctx context.Context, node goredis.Cmdable, now, thr int64, n *atomic.Int64) error {
	var cursor uint64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := func() error {
			ctx, cancel := s.opContext(ctx)
			defer cancel()
			keys, next, err := node.Scan(ctx, cursor, s.match, int64(s.batch)).Result()
			if err != nil {
				return err
			}
			cursor = next
			var recs, users []string
			for _, k := range keys {
				rest := strings.TrimPrefix(k, s.prefix)
				switch {
				case strings.HasPrefix(rest, "{") && strings.HasSuffix(rest, "}:r"):
					recs = append(recs, k)
				case strings.HasPrefix(rest, "u:"):
					users = append(users, k)
				}
			}
			if s.cluster {
				return s.clusterGCBatch(ctx, recs, users, now, thr, n)
			}
			return s.gcBatch(ctx, recs, users, now, thr, n)
		}()
		if err != nil {
			return err
		}
		if cursor == 0 {
			return nil
		}
	}
}

func (s *Store) gcBatch(ctx context.Context, recs, users []string, now, thr int64, n *atomic.Int64) error {
	if len(recs) > 0 {
		d, err := scriptGCRecords.Run(ctx, s.client, recs, s.prefix, now).Int64()
		if err != nil {
			return err
		}
		n.Add(d)
	}
	if len(users) > 0 {
		d, err := scriptGCUsers.Run(ctx, s.client, users, s.prefix, thr).Int64()
		if err != nil {
			return err
		}
		n.Add(d)
	}
	return nil
}

func (s *Store) clusterGCBatch(ctx context.Context, recs, users []string, now, thr int64, n *atomic.Int64) error {
	// Expired records: delete each in its slot, then release its ID keys
	// and index entry (the record is gone, so they lead nowhere already).
	calls := make([]*call, len(recs))
	for i, k := range recs {
		calls[i] = &call{sc: scriptGCRecord, keys: []string{k}, args: []any{now}}
	}
	if err := s.pipe(ctx, calls); err != nil {
		return err
	}
	var release []*call
	for i, c := range calls {
		v, err := c.cmd.StringSlice()
		if err != nil || len(v) != 2 {
			continue // nil: absent or live
		}
		n.Add(1)
		ref := strings.TrimSuffix(strings.TrimPrefix(recs[i], s.prefix+"{"), "}:r")
		for _, k := range s.idKeysOf(v[0]) {
			release = append(release, &call{sc: scriptDelIfEq, keys: []string{k}, args: []any{ref}})
		}
		release = append(release, s.unindex(v[1], ref)...)
	}
	if err := s.pipe(ctx, release); err != nil {
		return err
	}
	return s.clusterGCUsers(ctx, users, thr, n)
}

// clusterGCUsers drops, from each index, the entries scored at or before
// thr whose record is gone or names another user: three pipelined rounds
// per batch (candidates, their records' users, conditional removal).
func (s *Store) clusterGCUsers(ctx context.Context, users []string, thr int64, n *atomic.Int64) error {
	if len(users) == 0 {
		return nil
	}
	hi := strconv.FormatInt(thr, 10)
	p := s.client.Pipeline()
	cands := make([]*goredis.StringSliceCmd, len(users))
	for i, uk := range users {
		cands[i] = p.ZRangeByScore(ctx, uk, &goredis.ZRangeBy{Min: "-inf", Max: hi})
	}
	if _, err := p.Exec(ctx); err != nil {
		return err
	}
	type cand struct {
		user int
		ref  string
		u    *goredis.StringCmd
	}
	var cs []cand
	p = s.client.Pipeline()
	for i, c := range cands {
		for _, ref := range c.Val() {
			cs = append(cs, cand{i, ref, p.HGet(ctx, s.recordKey(ref), "u")})
		}
	}
	if len(cs) == 0 {
		return nil
	}
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return err
	}
	dead := make(map[int][]any)
	for _, c := range cs {
		u, err := c.u.Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
		if u != strings.TrimPrefix(users[c.user], s.prefix+"u:") {
			dead[c.user] = append(dead[c.user], c.ref)
		}
	}
	var calls []*call
	for i, refs := range dead {
		calls = append(calls, &call{sc: scriptZremIf, keys: []string{users[i]}, args: append([]any{thr}, refs...)})
	}
	if err := s.pipe(ctx, calls); err != nil {
		return err
	}
	for _, c := range calls {
		d, _ := c.cmd.Int64()
		n.Add(d)
	}
	return nil
}

package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/session"
)

// loadMany runs the load script for every hash in one pipeline — one
// round trip — and returns each record's raw answer (absent: no record).
// Concurrent Loads share it (store/internal/batch); each caller decodes
// its own copy. Single node and Sentinel only: Cluster loads take two
// steps on different slots (clusterLoad). Answers are read into a
// []string directly (StringSliceCmd): Script.Run's generic reply boxes
// every element in an interface and copies them again, about 50
// allocations for a record's hash.
func (s *Store) loadMany(ctx context.Context, hashes []session.Hash) (map[session.Hash][]string, error) {
	ctx, done, err := s.request(ctx, "load")
	if err != nil {
		return nil, err
	}
	defer done()
	cmds := make([]*goredis.StringSliceCmd, len(hashes))
	run := func(verb, script string, todo []int) error {
		if len(todo) == 1 { // a lone load: one command, no pipeline
			i := todo[0]
			cmds[i] = goredis.NewStringSliceCmd(ctx, verb, script, 1, s.idKey(hashes[i]), s.prefix)
			return s.client.Process(ctx, cmds[i])
		}
		_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, i := range todo {
				cmds[i] = goredis.NewStringSliceCmd(ctx, verb, script, 1, s.idKey(hashes[i]), s.prefix)
				p.Process(ctx, cmds[i])
			}
			return nil
		})
		return err
	}
	all := make([]int, len(hashes))
	for i := range all {
		all[i] = i
	}
	err = run("evalsha", scriptLoad.Hash(), all)
	var again []int
	for i, c := range cmds {
		if goredis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			again = append(again, i) // the server lost its script cache
		}
	}
	if len(again) > 0 {
		err = run("eval", luaLoad, again)
	}
	out := make(map[session.Hash][]string, len(hashes))
	for i, c := range cmds {
		switch cerr := c.Err(); {
		case cerr == nil:
			out[hashes[i]] = c.Val()
		case cerr == goredis.Nil:
		default:
			return nil, fail("load", cerr)
		}
	}
	if err != nil && err != goredis.Nil {
		return nil, fail("load", err)
	}
	return out, nil
}

package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/session"
)

// loadMany loads every hash in one pipeline — one round trip — and
// returns each record's raw answer (absent: no record). A hash with a ref
// hint is read with a plain HGETALL of its record; the others, and hints
// that no longer hold, run the load script (GET of the ID key and HGETALL
// on the server), the latter in a second round. Concurrent Loads share it
// (store/internal/batch); each caller decodes its own copy. Single node
// and Sentinel only: Cluster loads take two steps on different slots
// (clusterLoad). Answers are read into a []string directly
// (StringSliceCmd): Script.Run's generic reply boxes every element in an
// interface and copies them again, about 50 allocations for a record's
// hash. So is a HGETALL's under RESP2 (a list); under RESP3 it is a map.
func (s *Store) loadMany(ctx context.Context, hashes []session.Hash) (map[session.Hash][]string, error) {
	ctx, done, err := s.request(ctx, "load")
	if err != nil {
		return nil, err
	}
	defer done()
	cmds := make([]goredis.Cmder, len(hashes))
	send := func(todo []int, mk func(i int) goredis.Cmder) error {
		if len(todo) == 1 { // a lone load: one command, no pipeline
			i := todo[0]
			cmds[i] = mk(i)
			return s.client.Process(ctx, cmds[i])
		}
		_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, i := range todo {
				cmds[i] = mk(i)
				p.Process(ctx, cmds[i])
			}
			return nil
		})
		return err
	}
	script := func(verb, script string) func(i int) goredis.Cmder {
		return func(i int) goredis.Cmder {
			return goredis.NewStringSliceCmd(ctx, verb, script, 1, s.idKey(hashes[i]), s.prefix)
		}
	}
	all := make([]int, len(hashes))
	for i := range all {
		all[i] = i
	}
	byScript := script("evalsha", scriptLoad.Hash())
	err = send(all, func(i int) goredis.Cmder {
		if ref, ok := s.hints.get(hashes[i]); ok {
			// HGETALL answers a list under RESP2, read into a []string
			// directly, and a map under RESP3.
			if s.resp2 {
				return goredis.NewStringSliceCmd(ctx, "hgetall", s.recordKey(ref))
			}
			return goredis.NewMapStringStringCmd(ctx, "hgetall", s.recordKey(ref))
		}
		return byScript(i)
	})
	out := make(map[session.Hash][]string, len(hashes))
	// collect reads the answers of todo into out, and returns the loads
	// to run again: hints that no longer hold, and scripts the server
	// lost (NOSCRIPT, after a restart or SCRIPT FLUSH).
	collect := func(todo []int) (again []int, err error) {
		for _, i := range todo {
			h := hashes[i]
			switch cerr := cmds[i].Err(); {
			case cerr == nil:
				var pairs []string
				switch c := cmds[i].(type) {
				case *goredis.StringSliceCmd:
					pairs = c.Val()
				case *goredis.MapStringStringCmd:
					pairs = pairsOfMap(c.Val())
				}
				if cmds[i].Name() != "hgetall" || lists(pairs, h) {
					out[h] = pairs
				} else {
					s.hints.drop(h) // ask the ID key
					again = append(again, i)
				}
			case goredis.HasErrorPrefix(cerr, "NOSCRIPT"):
				again = append(again, i)
			case cerr == goredis.Nil:
			default:
				return nil, fail("load", cerr)
			}
		}
		return again, nil
	}
	again, cerr := collect(all)
	if cerr != nil {
		return nil, cerr
	}
	if len(again) > 0 {
		err = send(again, script("eval", luaLoad))
		if _, cerr := collect(again); cerr != nil {
			return nil, cerr
		}
	}
	if err != nil && err != goredis.Nil {
		return nil, fail("load", err)
	}
	return out, nil
}

package redis

import (
	"context"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/session"
)

// Data fields. A record's data lives in its hash as one field per key,
// named fieldPrefix + key, next to d (the rest of the record), so a merge
// can change keys in place (HSET/HDEL) under the record's own key.
const fieldPrefix = "."

// luaMergeData is the data part of every merge script: mergedata applies
// the data change set to the data fields of k — with clear, deletes them
// all first (but those starting with keep, if keep is not empty), then
// deletes the fields ARGV[at+1 .. at+ARGV[at]] and sets the field/value
// pairs after them — and answers whether a value changed; writedata
// finishes a merge that keeps d (rule 4): it counts the request (count)
// and, if anything changed, the version.
const luaMergeData = `
local function mergedata(k, clear, keep, at)
  local changed = false
  if clear then
    for _, f in ipairs(redis.call('HKEYS', k)) do
      if string.sub(f, 1, 1) == '.' and (keep == '' or string.sub(f, 1, #keep) ~= keep) then
        redis.call('HDEL', k, f)
        changed = true
      end
    end
  end
  local ndel = tonumber(ARGV[at])
  for j = at + 1, at + ndel do
    if redis.call('HDEL', k, ARGV[j]) == 1 then changed = true end
  end
  for j = at + 1 + ndel, #ARGV, 2 do
    if redis.call('HGET', k, ARGV[j]) ~= ARGV[j + 1] then
      redis.call('HSET', k, ARGV[j], ARGV[j + 1])
      changed = true
    end
  end
  return changed
end
local function writedata(k, changed, count)
  if count then
    redis.call('HINCRBY', k, 'n', 1)
    changed = true
  end
  if changed then redis.call('HINCRBY', k, 'v', 1) end
end
`

// luaMerge is the general merge shared by scriptMerge and
// scriptMergeRecord (session.Merger's rules). ARGV: prefix, ref, d, ids,
// user, e, ttl, score, now, base version, meta, base ids, base user, fast,
// clear, keep, requests (Next's), count ('1': add one to the stored
// count), #dels (ARGV[19]), dels..., then field/value pairs to set. check
// answers the verdict before anything is written: nil to go on, else the
// answer word; whole says whether d and the index fields are to be
// written (base version, or a meta change).
const luaMerge = luaMergeData + `
local function check(k, cur, fast)
  if not cur[1] then return 'NOTFOUND' end
  local same = cur[1] == ARGV[10]
  local meta = ARGV[11] == '1'
  -- rule 3 (a meta change: the IDs and the user), rule 4 (data: the user)
  if not same and ((cur[3] or '') ~= ARGV[13] or meta and cur[2] ~= ARGV[12]) then return 'CONFLICT' end
  local whole = same or meta
  if whole and fast and (cur[2] ~= ARGV[4] or cur[3] ~= ARGV[5]) then return 'CHANGED' end
  return nil, whole
end
local function writewhole(k)
  redis.call('HSET', k, 'd', ARGV[3], 'i', ARGV[4], 'u', ARGV[5], 'e', ARGV[6])
  redis.call('HINCRBY', k, 'v', 1)
  if ARGV[18] == '1' then redis.call('HINCRBY', k, 'n', 1) else redis.call('HSET', k, 'n', ARGV[17]) end
  setttl(k, tonumber(ARGV[7]))
end
local function mergeall(k, whole)
  local changed = mergedata(k, ARGV[15] == '1', ARGV[16], 19)
  if whole then writewhole(k) else writedata(k, changed, ARGV[18] == '1') end
end
`

// scriptMergeData is the single-node merge of a change set that touches
// only data, timestamps and the request count (session.Change.Meta false,
// no Clear): the common modifying request. It takes only what such a
// merge needs — each argument costs Redis about a tenth of a microsecond
// of its own time — and only the record's key. KEYS[1] record key. ARGV:
// base version, d, e, Next's version, Next's request count, ttl (ms), TTL
// slack (ms), horizon score (see ttlSlack), now, base user, count ('1':
// add one to the stored count), #dels (ARGV[12]), dels..., then
// field/value pairs to set.
//
// Its first branch is rule 2: the stored record is still the change set's
// base (and so has Next's IDs and user), so deleting and setting the
// change set's keys gives Next's data; the record's other fields are
// written in the same HSET. Its keys' TTLs (the record's, its ID keys' and
// its user index entry's, all set together, so the record's PTTL tells
// them all) are rewritten only if they would end before Next's expiry or
// more than the slack after it, and then to the expiry plus the slack: a
// session in use rewrites them once per slack, not on every request. Each
// write command costs a script more than a microsecond of Redis's time,
// beyond its own work. The branch comes before the helpers are defined
// (the common case returns before making their closures); the ID keys
// and the user index it rewrites are the stored record's (single node:
// a script may compute keys). Otherwise rule 4, as luaMerge.
var scriptMergeData = goredis.NewScript(`
local k = KEYS[1]
local cur = redis.call('HMGET', k, 'v', 'u')
local refresh
if cur[1] == ARGV[1] then
  local ndel, ttl, slack = tonumber(ARGV[12]), tonumber(ARGV[6]), tonumber(ARGV[7])
  if ndel > 0 then redis.call('HDEL', k, unpack(ARGV, 13, 12 + ndel)) end
  redis.call('HSET', k, 'd', ARGV[2], 'e', ARGV[3], 'v', ARGV[4], 'n', ARGV[5], unpack(ARGV, 13 + ndel))
  local left = redis.call('PTTL', k)
  if ttl > 0 then
    if left >= ttl and left <= ttl + slack then return 'OK' end
    refresh = ttl + slack
  else
    if left == -1 then return 'OK' end
    refresh = 0
  end
end
` + luaHelpers + luaMergeData + `
if refresh then
  local p = string.find(k, '{', 1, true)
  local prefix, ref = string.sub(k, 1, p - 1), string.sub(k, p + 1, -4)
  local ids = redis.call('HGET', k, 'i') or ''
  setttl(k, refresh)
  for j = 1, #ids, 64 do setid(prefix .. 'i:' .. string.sub(ids, j, j + 63), ref, refresh) end
  if (cur[2] or '') ~= '' then touchuser(prefix .. 'u:' .. cur[2], ref, ARGV[8], ARGV[9]) end
  return 'OK'
end
if not cur[1] then return 'NOTFOUND' end
if (cur[2] or '') ~= ARGV[10] then return 'CONFLICT' end
writedata(k, mergedata(k, false, '', 12), ARGV[11] == '1')
return 'OK'
`)

// Single node and Sentinel, every other change set. KEYS[1] record key,
// KEYS[2..] the ID keys of the merged record; ARGV as luaMerge.
var scriptMerge = goredis.NewScript(luaHelpers + luaMerge + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'i', 'u')
local word, whole = check(KEYS[1], cur, false)
if word then return word end
local ref = ARGV[2]
if whole then
  for i = 2, #KEYS do
    local o = redis.call('GET', KEYS[i])
    if o and o ~= ref then return 'COLLISION' end
  end
end
mergeall(KEYS[1], whole)
if not whole then return 'OK' end
local ttl = tonumber(ARGV[7])
for i = 2, #KEYS do setid(KEYS[i], ref, ttl) end
if cur[2] ~= ARGV[4] then
  local keep = {}
  for j = 1, #ARGV[4], 64 do keep[string.sub(ARGV[4], j, j + 63)] = true end
  dropids(ARGV[1], cur[2], ref, keep)
end
if cur[3] and cur[3] ~= '' and cur[3] ~= ARGV[5] then
  redis.call('ZREM', ARGV[1] .. 'u:' .. cur[3], ref)
end
if ARGV[5] ~= '' then touchuser(ARGV[1] .. 'u:' .. ARGV[5], ref, ARGV[8], ARGV[9]) end
return 'OK'
`)

// Cluster: the merge of the record alone, in its slot (the ID keys and the
// user index are claimed and released around it, as for Update). KEYS[1]
// record key; ARGV as luaMerge (fast: ARGV[14] = '1'). Answers {word, old
// ids, old user}.
var scriptMergeRecord = goredis.NewScript(luaHelpers + luaMerge + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'i', 'u')
local word, whole = check(KEYS[1], cur, ARGV[14] == '1')
if word then return {word} end
mergeall(KEYS[1], whole)
return {'OK', cur[2] or '', cur[3] or ''}
`)

// inPlaceMax bounds the keys deleted and the values set of a change set
// for scriptMergeData, which unpacks each list into one command (Lua's
// stack holds a few thousand values). A larger one goes through
// scriptMerge, which writes them one by one.
const inPlaceMax = 512

// dataOnly reports whether c goes through scriptMergeData: it changes
// only data, timestamps and the request count, and keeps Base's identity.
func dataOnly(c *session.Change) bool {
	return !c.Meta && !c.Clear && session.SameIdentity(c.Base, c.Next) &&
		len(c.Del) <= inPlaceMax && 2*len(c.Set) <= inPlaceMax
}

// dataArgs is ARGV of scriptMergeData.
func dataArgs(w *write, c *session.Change) []any {
	count := "0"
	if c.Count {
		count = "1"
	}
	slack, horizon := ttlSlack(w)
	args := make([]any, 0, 12+len(c.Del)+2*len(c.Set))
	args = append(args, strconv.FormatUint(c.Base.Version, 10), w.data, w.exp,
		strconv.FormatUint(c.Next.Version, 10), c.Next.Requests, w.ttl, slack, horizon, w.now,
		c.Base.User, count, len(c.Del))
	return changeArgs(args, c)
}

// mergeArgs is ARGV of scriptMerge and scriptMergeRecord.
func (s *Store) mergeArgs(w *write, c *session.Change, fast bool) []any {
	base := s.idsOf(c.Base)
	meta, f, clear, count := "0", "0", "0", "0"
	if c.Count && !c.Rotates() {
		count = "1"
	}
	if c.Meta {
		meta = "1"
	}
	if fast {
		f = "1"
	}
	keep := ""
	if c.Clear {
		clear = "1"
		if c.Keep != "" {
			keep = fieldPrefix + c.Keep
		}
	}
	args := make([]any, 0, 19+len(c.Del)+2*len(c.Set))
	args = append(args, s.prefix, w.ref, w.data, w.ids, w.user, w.exp, w.ttl, w.score, w.now,
		strconv.FormatUint(c.Base.Version, 10), meta, base, c.Base.User, f, clear, keep,
		c.Next.Requests, count, len(c.Del))
	return changeArgs(args, c)
}

// changeArgs appends the change set's keys to delete and field/value
// pairs to set to the ARGV of a merge script.
func changeArgs(args []any, c *session.Change) []any {
	for _, k := range c.Del {
		args = append(args, fieldPrefix+k)
	}
	for k, v := range c.Set {
		args = append(args, fieldPrefix+k, v)
	}
	return args
}

// maxTTLSlack bounds how long after a record's expiry its keys may stay
// in Redis (invisible: a load judges expiry by the record itself) when a
// merge in place leaves their TTLs alone.
const maxTTLSlack = time.Hour

// ttlSlack is how far past w's expiry a merge in place may leave its keys'
// TTLs (a sixteenth of the time left, at most maxTTLSlack; ms), and the
// user index score of that horizon (Unix µs; "+inf" for never).
func ttlSlack(w *write) (slack int64, horizon string) {
	if w.ttl == 0 {
		return 0, "+inf"
	}
	slack = min(w.ttl/16, maxTTLSlack.Milliseconds())
	return slack, strconv.FormatInt(w.expUS+slack*1000, 10)
}

// idsOf is the ids field of rec (hex of its distinct hashes, in order).
func (s *Store) idsOf(rec *session.Record) string {
	hashes := rec.Hashes()
	var b strings.Builder
	b.Grow(64 * len(hashes))
	for i, h := range hashes {
		if !containsHash(hashes[:i], h) {
			b.WriteString(h.Hex())
		}
	}
	return b.String()
}

// Merge implements session.Merger: one script under the record's key on a
// single node or Sentinel. In Cluster mode a merge that keeps the record's
// IDs and user is one pipelined round (the script in the record's slot,
// plus TTL refreshes of its ID keys); one that changes them claims the new
// ID keys first and releases dropped ones after, as Update does.
func (s *Store) Merge(ctx context.Context, c *session.Change) error {
	w, err := s.prepare(c.Next, time.Now())
	if err != nil {
		return err
	}
	ctx, done, err := s.request(ctx, "merge")
	if err != nil {
		return err
	}
	defer done()
	if s.cluster {
		return s.clusterWrite(ctx, w, "merge", func(fast bool) *call {
			return &call{sc: scriptMergeRecord, keys: []string{s.recordKey(w.ref)}, args: s.mergeArgs(w, c, fast)}
		})
	}
	var cmd *goredis.Cmd
	if dataOnly(c) {
		cmd = scriptMergeData.Run(ctx, s.client, []string{s.recordKey(w.ref)}, dataArgs(w, c)...)
	} else {
		cmd = scriptMerge.Run(ctx, s.client, append([]string{s.recordKey(w.ref)}, w.idKeys...),
			s.mergeArgs(w, c, false)...)
	}
	word, err := cmd.Text()
	if err != nil {
		return fail("merge", err)
	}
	return status("merge", word)
}

// fields returns rec's data as hash fields (name, value, ...), and its
// request count as n (counted up in place by merges).
func fields(rec *session.Record) []any {
	out := make([]any, 0, 2*len(rec.Data)+2)
	for k, v := range rec.Data {
		out = append(out, fieldPrefix+k, v)
	}
	return append(out, "n", rec.Requests)
}

// field returns the value of a field of HGETALL pairs.
func field(pairs []string, name string) (string, bool) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] == name {
			return pairs[i+1], true
		}
	}
	return "", false
}

// assemble makes a record from a stored hash (HGETALL as name/value
// pairs): d, with the data fields over any data d holds.
func assemble(pairs []string) (d string, data map[string]string, ok bool) {
	for i := 0; i+1 < len(pairs); i += 2 {
		name, v := pairs[i], pairs[i+1]
		switch {
		case name == "d":
			d, ok = v, true
		case strings.HasPrefix(name, fieldPrefix):
			if data == nil {
				data = make(map[string]string, len(pairs)/2)
			}
			data[name[len(fieldPrefix):]] = v
		}
	}
	return d, data, ok
}

package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts. goredis.Script runs them with EVALSHA and falls back to
// EVAL when the server answers NOSCRIPT (after a restart or SCRIPT FLUSH),
// so a warm server costs one command per call.
//
// Conventions: ARGV carry the record fields as the Go side prepared them
// (see write): ttl is milliseconds (0: no expiry), score and e are Unix
// microseconds (score "+inf" and e "" for no expiry), ids is the 64-hex
// digest of every hash concatenated. Versions are compared as strings so a
// uint64 never passes through a Lua double.

// luaHelpers is shared by the scripts that write.
const luaHelpers = `
local function setttl(k, ttl)
  if ttl > 0 then redis.call('PEXPIRE', k, ttl) else redis.call('PERSIST', k) end
end
local function setid(k, ref, ttl)
  if ttl > 0 then redis.call('SET', k, ref, 'PX', ttl) else redis.call('SET', k, ref) end
end
-- touchuser adds ref to a user's index (score: the record's expiry) and
-- gives the index the TTL of its longest-lived member.
local function touchuser(k, ref, score, now)
  local added = redis.call('ZADD', k, score, ref)
  local top = redis.call('ZREVRANGE', k, 0, 0, 'WITHSCORES')[2]
  local ms = 0
  if top ~= 'inf' and top ~= '+inf' then
    ms = math.ceil((tonumber(top) - tonumber(now)) / 1000)
    if ms < 1 then ms = 1 end
  end
  setttl(k, ms)
  return added
end
-- putfields writes a record's data fields ARGV[from..] (field, value pairs).
local function putfields(k, from)
  for j = from, #ARGV, 2 do redis.call('HSET', k, ARGV[j], ARGV[j + 1]) end
end
-- dropids deletes the ID keys listed in ids that still name ref, except
-- those in keep.
local function dropids(prefix, ids, ref, keep)
  for j = 1, #ids, 64 do
    local hex = string.sub(ids, j, j + 63)
    if not (keep and keep[hex]) then
      local k = prefix .. 'i:' .. hex
      if redis.call('GET', k) == ref then redis.call('DEL', k) end
    end
  end
end
`

// Single node and Sentinel: each operation is one script that may touch
// keys it computes (the record key from the ID key's value, old ID keys,
// the old user's index). That is allowed outside Cluster only.

// KEYS[1] ID key; ARGV[1] prefix. Returns the record hash (HGETALL) or nil.
const luaLoad = `
local ref = redis.call('GET', KEYS[1])
if not ref then return false end
return redis.call('HGETALL', ARGV[1] .. '{' .. ref .. '}:r')
`

var scriptLoad = goredis.NewScript(luaLoad)

// KEYS[1] record key, KEYS[2..] ID keys.
// ARGV: prefix, ref, data, version, ids, user, e, ttl, score, now, then
// (ARGV[11..]) the data fields.
var scriptCreate = goredis.NewScript(luaHelpers + `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 'COLLISION' end
end
local ttl = tonumber(ARGV[8])
redis.call('HSET', KEYS[1], 'd', ARGV[3], 'v', ARGV[4], 'i', ARGV[5], 'u', ARGV[6], 'e', ARGV[7])
putfields(KEYS[1], 11)
setttl(KEYS[1], ttl)
for i = 2, #KEYS do setid(KEYS[i], ARGV[2], ttl) end
if ARGV[6] ~= '' then touchuser(ARGV[1] .. 'u:' .. ARGV[6], ARGV[2], ARGV[9], ARGV[10]) end
return 'OK'
`)

// Compare-and-swap. KEYS as scriptCreate; ARGV as scriptCreate up to
// ARGV[10], then ARGV[11] the expected stored version and (ARGV[12..]) the
// data fields, which replace the stored ones.
var scriptUpdate = goredis.NewScript(luaHelpers + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'i', 'u')
if not cur[1] then return 'NOTFOUND' end
if cur[1] ~= ARGV[11] then return 'CONFLICT' end
local ref = ARGV[2]
for i = 2, #KEYS do
  local o = redis.call('GET', KEYS[i])
  if o and o ~= ref then return 'COLLISION' end
end
local ttl = tonumber(ARGV[8])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[3], 'v', ARGV[4], 'i', ARGV[5], 'u', ARGV[6], 'e', ARGV[7])
putfields(KEYS[1], 12)
setttl(KEYS[1], ttl)
for i = 2, #KEYS do setid(KEYS[i], ref, ttl) end
if cur[2] and cur[2] ~= ARGV[5] then
  local keep = {}
  for j = 1, #ARGV[5], 64 do keep[string.sub(ARGV[5], j, j + 63)] = true end
  dropids(ARGV[1], cur[2], ref, keep)
end
if cur[3] and cur[3] ~= '' and cur[3] ~= ARGV[6] then
  redis.call('ZREM', ARGV[1] .. 'u:' .. cur[3], ref)
end
if ARGV[6] ~= '' then touchuser(ARGV[1] .. 'u:' .. ARGV[6], ref, ARGV[9], ARGV[10]) end
return 'OK'
`)

// KEYS[1] record key; ARGV prefix, ref. The lock key is left to its holder.
var scriptDelete = goredis.NewScript(luaHelpers + `
local cur = redis.call('HMGET', KEYS[1], 'i', 'u')
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
if cur[1] then dropids(ARGV[1], cur[1], ARGV[2], nil) end
if cur[2] and cur[2] ~= '' then redis.call('ZREM', ARGV[1] .. 'u:' .. cur[2], ARGV[2]) end
return 1
`)

// KEYS[1] user index; ARGV prefix, user. Returns the records' hashes
// (HGETALL each) and drops the entries whose record is gone or belongs to
// someone else.
var scriptList = goredis.NewScript(`
local out = {}
for _, ref in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[1] .. '{' .. ref .. '}:r'
  if redis.call('HGET', k, 'u') == ARGV[2] then
    out[#out + 1] = redis.call('HGETALL', k)
  else
    redis.call('ZREM', KEYS[1], ref)
  end
end
return out
`)

// KEYS record keys; ARGV prefix, now. Deletes the records that expired at
// now, with their ID keys and index entries; returns how many.
var scriptGCRecords = goredis.NewScript(luaHelpers + `
local n = 0
local now = tonumber(ARGV[2])
for _, k in ipairs(KEYS) do
  local x = redis.call('HMGET', k, 'e', 'i', 'u')
  if x[1] and x[1] ~= '' and tonumber(x[1]) <= now then
    local ref = string.sub(k, #ARGV[1] + 2, -4)
    redis.call('DEL', k)
    if x[2] then dropids(ARGV[1], x[2], ref, nil) end
    if x[3] and x[3] ~= '' then redis.call('ZREM', ARGV[1] .. 'u:' .. x[3], ref) end
    n = n + 1
  end
end
return n
`)

// KEYS user indexes; ARGV prefix, threshold. Drops the entries scored at or
// before the threshold whose record is gone or has another user.
var scriptGCUsers = goredis.NewScript(`
local n = 0
for _, k in ipairs(KEYS) do
  local user = string.sub(k, #ARGV[1] + 3)
  for _, ref in ipairs(redis.call('ZRANGEBYSCORE', k, '-inf', ARGV[2])) do
    if redis.call('HGET', ARGV[1] .. '{' .. ref .. '}:r', 'u') ~= user then
      redis.call('ZREM', k, ref)
      n = n + 1
    end
  end
end
return n
`)

// Cluster: every script touches only its declared keys, all in one slot.

// KEYS[1] record key; ARGV data, version, ids, user, e, ttl, then
// (ARGV[7..]) the data fields. 1 if written, 0 if the key is taken.
var scriptCreateRecord = goredis.NewScript(luaHelpers + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'v', ARGV[2], 'i', ARGV[3], 'u', ARGV[4], 'e', ARGV[5])
putfields(KEYS[1], 7)
setttl(KEYS[1], tonumber(ARGV[6]))
return 1
`)

// Compare-and-swap of the record alone. KEYS[1] record key; ARGV data,
// version, ids, user, e, ttl, prev, fast, then (ARGV[9..]) the data
// fields. With fast = '1' it writes only if the stored ids and user equal
// the new ones and otherwise answers CHANGED. Answers {word, old ids, old
// user}.
var scriptCAS = goredis.NewScript(luaHelpers + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'i', 'u')
if not cur[1] then return {'NOTFOUND'} end
if cur[1] ~= ARGV[7] then return {'CONFLICT'} end
if ARGV[8] == '1' and (cur[2] ~= ARGV[3] or cur[3] ~= ARGV[4]) then return {'CHANGED'} end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'v', ARGV[2], 'i', ARGV[3], 'u', ARGV[4], 'e', ARGV[5])
putfields(KEYS[1], 9)
setttl(KEYS[1], tonumber(ARGV[6]))
return {'OK', cur[2] or '', cur[3] or ''}
`)

// KEYS[1] ID key; ARGV ref, ttl. 1: claimed (was free); 0: already ref's,
// TTL refreshed; -1: held by another record.
var scriptClaim = goredis.NewScript(luaHelpers + `
local o = redis.call('GET', KEYS[1])
if o and o ~= ARGV[1] then return -1 end
setid(KEYS[1], ARGV[1], tonumber(ARGV[2]))
if o then return 0 end
return 1
`)

// KEYS[1] any string key; ARGV[1] value. Deletes it if it holds value
// (ID keys on rollback and cleanup; lock release).
var scriptDelIfEq = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// KEYS[1] lock key; ARGV token, ttl. Renews a lock its holder still has.
var scriptRenewIfEq = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// KEYS[1] user index; ARGV ref, score, now. 1 if ref was added.
var scriptTouchUser = goredis.NewScript(luaHelpers + `
return touchuser(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
`)

// KEYS[1] user index; ARGV threshold, refs... Removes each ref whose score
// is at or before the threshold (an entry re-added meanwhile has a future
// score and stays). Returns how many.
var scriptZremIf = goredis.NewScript(`
local n = 0
local thr = tonumber(ARGV[1])
for i = 2, #ARGV do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and s ~= 'inf' and s ~= '+inf' and tonumber(s) <= thr then
    redis.call('ZREM', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`)

// KEYS[1] record key. Deletes it; answers {ids, user}, or nil if absent.
var scriptDeleteRecord = goredis.NewScript(`
local x = redis.call('HMGET', KEYS[1], 'i', 'u')
if redis.call('DEL', KEYS[1]) == 0 then return false end
return {x[1] or '', x[2] or ''}
`)

// KEYS[1] record key; ARGV now. Deletes it if it expired at now; answers
// {ids, user}, or nil if it is absent or live.
var scriptGCRecord = goredis.NewScript(`
local x = redis.call('HMGET', KEYS[1], 'e', 'i', 'u')
if not x[1] or x[1] == '' or tonumber(x[1]) > tonumber(ARGV[1]) then return false end
redis.call('DEL', KEYS[1])
return {x[2] or '', x[3] or ''}
`)

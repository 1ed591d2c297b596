// Package redis is a session.Store and session.Locker on Redis, the
// distributed store for many gateways or app servers sharing sessions.
// It takes any go-redis/v9 redis.UniversalClient: a single
// node or Sentinel (*redis.Client, e.g. from NewFailoverClient) or a Redis
// Cluster (*redis.ClusterClient). A *Store is safe for concurrent use, and
// any number of processes may share one Redis.
//
//	s, err := redis.New(redis.Config{URL: "redis://127.0.0.1:6379/0"})
//
// The package is named redis like its directory; import go-redis under
// another name (goredis) next to it. Redis 5 or later; tested with 7.0.
//
// # Key layout
//
// P is Config.Prefix (default "sessiond:"); only hashes of IDs are stored,
// never IDs.
//
//	P{ref}:r      hash: the record. d = session.MarshalRecord bytes of
//	              the record without its data, v = version, i = hex of
//	              every ID hash naming it (concatenated), u = user,
//	              e = Expires in Unix µs ("" never),
//	              n = the request count (Requests, counted up by merges),
//	              and one field ".<key>" per data key, so that a merge
//	              (session.Merger) changes keys in place under this key
//	P{ref}:l      string: the record's lock (random token of the holder)
//	P i:<hex>     string: ID index, SHA-256 of an ID (hex) -> ref; one per
//	              ID, secure ID and alias
//	P u:<user>    sorted set: the user's index, ref scored by the record's
//	              Expires in Unix µs (+inf for never)
//
// (There is no space after P; it is shown for reading.) The hash tag {ref}
// puts a record and its lock in one Cluster slot, so a script can handle
// both; the prefix may not contain braces, which would override that tag.
// An ID key's slot depends on the hash alone, since a lookup knows nothing
// else, so it can never share the record's slot in a Cluster.
//
// The user index is a sorted set rather than a plain set so that its
// cleanup can be made safe without a cross-slot transaction (see the
// Cluster section), and so its own TTL can follow its longest-lived member.
//
// # TTLs
//
// Every key of a record gets a TTL from rec.Expires, so expiry resets on
// save. The Manager sets Expires session.ExpiredNotice past the
// session's end, so for that long a presented ID still finds its record
// and is answered as expired (audited, cookie cleared), not unknown: PX = Expires minus the writer's clock, rounded up to a
// millisecond, at least 1 ms (a record written already expired vanishes
// at once). Expires zero means no TTL (PERSIST), and only then. Create,
// Update and a merge that rewrites the record set exactly that. A merge
// in place (see Round trips) leaves the TTLs alone while they end no
// earlier than the new Expires and no later than a slack past it (a
// sixteenth of the time left, at most an hour), and otherwise sets them
// to Expires plus that slack — so a session in use rewrites them about
// once per slack, and its keys stay at most the slack past its expiry.
// A user index gets the TTL of its longest-lived member (none if any
// member never expires), recomputed whenever an entry is added or
// rescored; an entry's score is the expiry its record's keys were given.
// A lock key lives LockTTL unless renewed by its live holder. Load and
// ListUser treat a record whose Expires has passed as absent, whatever
// Redis still holds, and GC deletes it.
//
// # Round trips
//
// Counted by TestRoundTrips (INFO commandstats on a redis-server of the
// test's own) and by TestCluster/RoundTrips (a go-redis hook):
//
//	operation                   single node / Sentinel    Cluster
//	Load, ref hint held         1 (HGETALL)               1 (HGETALL)
//	Load, otherwise             1 (EVALSHA)               2 (GET, HGETALL)
//	Create                      1 (EVALSHA)               2 (pipeline, EVALSHA)
//	Update, same IDs and user   1 (EVALSHA)               1 (pipeline)
//	Update that adds IDs/user   1 (EVALSHA)               2 (pipeline, pipeline)
//	Update that drops IDs       1 (EVALSHA)               3
//	Merge, same IDs and user    1 (EVALSHA)               1 (pipeline)
//	Merge that changes IDs      1 (EVALSHA)               2 or 3, as Update
//	Delete                      1 (EVALSHA)               2
//	ListUser                    1 (EVALSHA)               2, 3 with stale entries
//	GC, per batch of keys       1 SCAN + 1 or 2 EVALSHA   1 SCAN + up to 5
//
// A Load remembers which record (ref) the hash named, in memory (at most
// 10,000 hints); the next Load of that hash reads the record directly and
// uses it only if the record still lists the hash, else it asks the ID key
// in a second round, so a hint never serves a record rotated away from
// the hash or deleted, by this process or another. On a single node a
// merge of data only (no change of IDs, user or client, no Clear: the
// common modifying request) runs a script of its own that is given the
// record's key alone and only the arguments such a merge needs (each
// argument costs Redis about a tenth of a microsecond). On the version its
// request loaded it writes in place: one HSET of the record's fields and
// the change set's keys, and a PTTL (TTLs); on a newer version it applies
// the change set key by key, as the general merge does.
//
// A pipeline counts as one round: go-redis sends each node its share
// concurrently. Scripts run through redis.Script (EVALSHA, falling back to
// EVAL once after NOSCRIPT, e.g. after a restart), so a cold script cache
// costs one extra command per script and node.
//
// # Atomicity: single node and Sentinel
//
// Every operation is one Lua script, atomic on the server. Create checks
// the record key and every ID key (SET NX semantics on all of them) before
// writing anything. Update compares the stored version, checks that new ID
// hashes are free, writes the record, points the new ID keys at it,
// deletes the ID keys it no longer lists (only those still naming it) and
// moves the index entry if the user changed. These scripts compute some
// key names inside Lua (the record key from an ID key's value, old ID
// keys), which Redis allows outside Cluster only.
//
// # Atomicity: Cluster
//
// A script may not touch keys of different slots, and a record and its ID
// keys never share one, so each operation is a sequence of single-slot
// steps ordered to keep every intermediate state safe:
//
//   - ID keys are claimed before the record lists them (a script per key:
//     set if free or already this record's, refuse if another's) and
//     released after the record stops listing them (delete only if still
//     naming this record). A collision or failure releases what was
//     claimed. Creators racing for one hash: exactly one wins; two racing
//     for overlapping sets may both lose (each holds one key the other
//     wants), which is a collision to retry with fresh IDs, never a shared
//     ID.
//   - The record is written by a compare-and-swap script in its own slot,
//     so no lost update is possible: versions are checked atomically
//     exactly as on a single node.
//   - Load accepts a record only if it lists the hash it was reached by.
//     An ID key left behind by a process that died between steps, or one
//     about to be released, therefore reads as not found, never as someone
//     else's session; it expires with its TTL. (Without an expiry such an
//     orphan ID key stays until deleted by hand; it is harmless, since IDs
//     are 256-bit random and never reissued.)
//   - A user index entry is added (scored by the record's Expires) before
//     the record names that user, and is removed only when the record is
//     deleted, or by cleanup (ListUser, GC) when the record is gone or names
//     another user and the entry's score has passed the current time, in a
//     script that re-checks the score. A concurrent write that re-adds the
//     entry raises its score first, so cleanup cannot remove it. The index
//     is thus a superset of the truth, filtered on read: "revoke every
//     session of this user" never misses one.
//
// What Cluster does not give: a Create or Update interrupted by a crash may
// leave claimed ID keys (harmless, see above) or a stale index entry
// (filtered, then cleaned); a Load racing an Update that rotates IDs sees
// either the old or the new record, never a mix. GC scans every master
// through ForEachMaster, which needs a *redis.ClusterClient; with
// Config.Cluster on another client, GC scans what that client's SCAN
// reaches. (NewFailoverClusterClient also returns a *redis.ClusterClient:
// the store then uses the Cluster protocol, correct but with the Cluster
// round trips; prefer NewFailoverClient for Sentinel.)
//
// # GC
//
// Redis deletes expired keys itself; GC(ctx, now) covers the rest. It
// walks the keyspace with SCAN MATCH P* (COUNT Config.GCBatch), handling
// each batch with one script (single node) or a few pipelines (Cluster),
// so no long command stalls other clients. It deletes records whose
// Expires is at or before now (with their ID keys and index entry) even if
// Redis has not expired them yet, and drops index entries whose record is
// gone. It reports records deleted plus entries dropped for records Redis
// had already expired: each dead session counts once.
//
// # Locks
//
// Lock (session.Locker) sets P{ref}:l with SET NX PX LockTTL and a random
// token, polls with a capped backoff while another holder has it (bounded
// by ctx and LockWait), renews the TTL every LockTTL/3 while held, and
// releases with a compare-and-delete script, so a crashed holder blocks
// others for LockTTL at most and a late unlock never frees someone else's
// lock.
//
// # Errors and outages
//
// redis.Nil and script answers map to session.ErrNotFound, ErrConflict and
// ErrCollision. No answer at all (connection refused, timeout, pool
// exhausted, closed client, a loading, failing-over or out-of-memory
// server) wraps session.ErrUnavailable together with the cause. Every
// operation runs under Config.Timeout (default 1 s) on top of the caller's
// context; a client made from Config.URL also dials with 1 s, reads and
// writes with 500 ms and retries once, and a caller's client must have
// ContextTimeoutEnabled so the timeout reaches its sockets. A store whose
// server is down or hung fails each call in about Config.Timeout at most
// and serves again, with the same Store, once the server is back.
//
// go-redis checks a pooled connection is still open before each command,
// with a system call of its own. A client made from Config.URL skips that
// check for a connection that answered less than 100 ms ago; a connection
// the server closed within that time (a restart, CLIENT KILL, a proxy's
// failover) fails its next command before the server reads it, go-redis
// retries the command on another connection, and the client checks all its
// other connections again (see conn.go).
//
// Nothing here logs an ID or an ID hash: warnings about partial Cluster
// writes name the record by its ref.
package redis

package redis

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"time"

	"github.com/sessiond/sessiond/session"
)

// write is a record in the form the scripts take.
type write struct {
	ref    string
	user   string
	data   []byte // MarshalRecord of the record without its Data
	fields []any  // the Data as hash fields (Create and Update only; a merge sends its change set)
	ver    string
	ids    string   // hex of every distinct hash, concatenated, in Hashes() order
	idKeys []string // the ID key of each of those hashes
	exp    string   // Expires in Unix microseconds, "" for never
	expUS  int64    // the same as a number, 0 for never
	score  string   // the same as a sorted-set score, "+inf" for never
	ttl    int64    // milliseconds until Expires, 0 for never (at least 1 otherwise)
	now    string   // the wall clock in Unix microseconds
}

func (s *Store) prepare(rec *session.Record, now time.Time) (*write, error) {
	if rec.Ref == "" {
		return nil, errors.New("redis: record without ref")
	}
	meta := *rec
	meta.Data = nil
	data, err := session.MarshalRecord(&meta)
	if err != nil {
		return nil, fmt.Errorf("redis: encoding record %s: %w", rec.Ref, err)
	}
	w := &write{
		ref:   rec.Ref,
		user:  rec.User,
		data:  data,
		ver:   strconv.FormatUint(rec.Version, 10),
		score: "+inf",
		now:   strconv.FormatInt(now.UnixMicro(), 10),
	}
	w.ids = s.idsOf(rec)
	w.idKeys = s.idKeysOf(w.ids)
	if !rec.Expires.IsZero() {
		w.expUS = rec.Expires.UnixMicro()
		w.exp = strconv.FormatInt(w.expUS, 10)
		w.score = w.exp
		w.ttl = int64(math.Ceil(float64(rec.Expires.Sub(now)) / float64(time.Millisecond)))
		w.ttl = max(w.ttl, 1)
	}
	return w, nil
}

func containsHash(hs []session.Hash, h session.Hash) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

// unmarshal makes a record from its stored hash (HGETALL pairs).
func unmarshal(pairs []string) (*session.Record, error) {
	d, data, ok := assemble(pairs)
	if !ok {
		return nil, fmt.Errorf("redis: stored record is corrupt: no d field")
	}
	rec, err := session.UnmarshalRecord([]byte(d))
	if err != nil {
		return nil, fmt.Errorf("redis: stored record is corrupt: %w", err)
	}
	if rec.Data == nil {
		rec.Data = data
	} else {
		maps.Copy(rec.Data, data)
	}
	// A merge that keeps d counts v (and n) up in place.
	if v, ok := field(pairs, "v"); ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: stored record is corrupt: version %q", v)
		}
		rec.Version = n
	}
	if v, ok := field(pairs, "n"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("redis: stored record is corrupt: request count %q", v)
		}
		rec.Requests = n
	}
	return rec, nil
}

// decode reads a stored record and checks that it is still named by h and
// not expired. The check makes an ID key that a partial Cluster write left
// behind (or one about to be deleted) harmless: it leads nowhere.
func decode(pairs []string, h session.Hash, now time.Time) (*session.Record, error) {
	if len(pairs) == 0 {
		return nil, fmt.Errorf("redis: load: %w", session.ErrNotFound)
	}
	rec, err := unmarshal(pairs)
	if err != nil {
		return nil, err
	}
	if !names(rec, h) || rec.ExpiredAt(now) {
		return nil, fmt.Errorf("redis: load: %w", session.ErrNotFound)
	}
	return rec, nil
}

func names(rec *session.Record, h session.Hash) bool {
	if rec.ID == h || rec.SecureID == h {
		return true
	}
	for _, a := range rec.Aliases {
		if a.Hash == h {
			return true
		}
	}
	return false
}

// fail turns a client error into the store's error: redis.Nil is
// not-found; a failure to get an answer (network, timeout, pool, closed
// client, a server that is loading, failing over or out of memory) is
// session.ErrUnavailable; anything else is a server refusal that points at
// a bug or at foreign data under Prefix, returned without a sentinel.

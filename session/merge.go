package session

import (
	"context"
	"maps"
	"slices"
	"strings"
)

// Merger is implemented by stores that apply a change set to the newest
// version of a record atomically, whatever writes happened since the
// change set's base was loaded, so a backend's write is never lost to a
// concurrent one. The Manager
// uses it in place of Update; stores without it get compare-and-swap with
// backoff.
//
// Merge follows these rules, in one atomic step:
//
//  1. No record with key c.Next.Ref: ErrNotFound.
//  2. The stored version is c.Base.Version: store c.Next exactly as Update
//     would (ID index, ErrCollision).
//  3. Otherwise, if c.Meta: if the stored record's identity (its Hashes()
//     in order, and User) differs from c.Base's, ErrConflict and nothing
//     is written; else store c.Next's fields except Data, with the stored
//     data plus the data change set as Data and the stored version + 1.
//  4. Otherwise, if the stored record's User differs from c.Base's (a
//     login, a logout or a change of user — a hard rotation — since the
//     change set's base): ErrConflict and nothing is written, so a change
//     built on the old identity never reaches the new one (the Manager
//     then decides, see ErrIdentityChanged). Else the stored record keeps
//     every field but Data (and Requests, see Change.Count); the data
//     change set is applied to its data, and only if that changes a value
//     (or counts a request) is the record written (version + 1). A merge
//     that changes nothing writes nothing.
//
// store/storetest checks these rules on every store that implements it.
type Merger interface {
	Merge(ctx context.Context, c *Change) error
}

// Change is a change set for Merger.Merge.
type Change struct {
	// Base is the version the change set was built on (read-only); Next is
	// Base with the change set applied, Next.Version == Base.Version+1.
	Base, Next *Record
	// The data change set: Clear deletes every key first (except those
	// starting with Keep, when Keep is not empty), then Del deletes and
	// Set sets. Set and Del never share a key.
	Set   map[string]string
	Del   []string
	Clear bool
	Keep  string
	// Meta reports that Next changes more than data, timestamps and the
	// request count: IDs, aliases, user, client info or transport state.
	// Such a change applies to a newer version only while its identity is
	// Base's.
	Meta bool
	// Count: Next counts this request in Requests (Config.RotateRequests).
	// On a newer version the store adds one to the stored count instead,
	// so concurrent requests are all counted — unless Next rotates the ID
	// (Generation changes), which starts the count again.
	Count bool
}

// Rotates reports whether Next regenerates Base's ID.
func (c *Change) Rotates() bool { return c.Next.Generation != c.Base.Generation }

// SameIdentity reports whether a and b have the same ID hashes (in
// Hashes() order) and user: rule 3 of Merger.
func SameIdentity(a, b *Record) bool {
	if a.ID != b.ID || a.SecureID != b.SecureID || a.User != b.User || len(a.Aliases) != len(b.Aliases) {
		return false
	}
	for i := range a.Aliases {
		if a.Aliases[i].Hash != b.Aliases[i].Hash {
			return false
		}
	}
	return true
}

// MergeData applies the data change set to data and returns the result and
// whether any value changed. data is not modified.
func (c *Change) MergeData(data map[string]string) (map[string]string, bool) {
	out := maps.Clone(data)
	if out == nil {
		out = map[string]string{}
	}
	changed := false
	if c.Clear {
		for k := range out {
			if c.Keep == "" || !strings.HasPrefix(k, c.Keep) {
				delete(out, k)
				changed = true
			}
		}
	}
	for _, k := range c.Del {
		if _, ok := out[k]; ok {
			delete(out, k)
			changed = true
		}
	}
	for k, v := range c.Set {
		if old, ok := out[k]; !ok || old != v {
			out[k] = v
			changed = true
		}
	}
	return out, changed
}

// Apply is Merger's rules for a store that holds whole records in its own
// process (memory, SQLite): given the stored record cur, it returns the
// record to store, or nil if nothing is to be written, or ErrConflict.
// cur is not modified.
func (c *Change) Apply(cur *Record) (*Record, error) {
	if cur.Version == c.Base.Version {
		return c.Next, nil
	}
	data, changed := c.MergeData(cur.Data)
	var next *Record
	switch {
	case c.Meta:
		if !SameIdentity(cur, c.Base) {
			return nil, ErrConflict
		}
		next = c.Next.Clone()
	case cur.User != c.Base.User:
		return nil, ErrConflict
	case !changed && !c.Count:
		return nil, nil
	default:
		next = cur.Clone()
	}
	next.Data = data
	next.Version = cur.Version + 1
	if c.Count && !c.Rotates() {
		next.Requests = cur.Requests + 1
	}
	return next, nil
}

// keys lists a set's keys, sorted.
func keys(m map[string]struct{}) []string {
	return slices.Sorted(maps.Keys(m))
}

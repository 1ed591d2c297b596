package session

import (
	"slices"

	"github.com/sessiond/sessiond/internal/token"
)

// Server-side IDs (storeBackend): a record is found by the hash of its
// current ID; a regenerated ID becomes an alias that works for the grace
// window and may lead its holder to the new ID.

// maxAliases bounds how many obsolete IDs a record remembers. Past it the
// oldest is forgotten (its replay is then simply unknown).
const maxAliases = 64

// follow walks the alias chain from a raw ID the client presented to the
// raw ID that rec.ID (or rec.SecureID, when secure) currently hashes.
// It returns "" if the chain is broken: the client cannot be led on.
func follow(rec *Record, raw string, secure bool) string {
	target := rec.ID
	if secure {
		target = rec.SecureID
	}
	for range maxAliases + 1 {
		h, ok := token.ParseIn(rec.Realm, raw)
		if !ok {
			return ""
		}
		if h == target {
			return raw
		}
		i := slices.IndexFunc(rec.Aliases, func(a Alias) bool { return a.Hash == h })
		if i < 0 || rec.Aliases[i].Next == nil {
			return ""
		}
		next, ok := token.OpenSuccessor(raw, rec.Aliases[i].Next)
		if !ok {
			return ""
		}
		raw = next
	}
	return ""
}

// pending is a drawn ID kept across compare-and-swap retries.
type pending struct {
	raw  string
	hash Hash
}

func (p *pending) draw(realm string) {
	if p.raw == "" {
		p.raw, p.hash = token.NewIn(realm)
	}
}

package session

import (
	"container/heap"
	"net/netip"
	"sync"
	"time"
)

// ClientPrefix is the network that a client address stands for when its
// requests are counted: the address itself for IPv4 (/32), its /64 for
// IPv6 — one host, or one subscriber, is given a whole /64 and may rotate
// through its 2^64 addresses at will, so counting per address would give
// it an unlimited budget. The unknown-ID throttle and the gateway's
// per-client login limit key on it. The zero Addr gives the zero Prefix.
func ClientPrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// unknownIDMaxClients is how many client networks an UnknownIDLimiter
// counts in one window. Past it, a new client replaces the one with the
// fewest unknown IDs (the least recently counted of those): a flood of
// sources with one guess each cannot push out the clients that guessed
// most.
const unknownIDMaxClients = 100_000

// UnknownIDLimiter counts unknown or malformed session IDs per client
// network (ClientPrefix: an IPv4 address, an IPv6 /64) in fixed
// one-minute windows, with memory bounded by unknownIDMaxClients.
// Managers share one through Config.UnknownIDs, so that a client's guesses
// count once whichever Manager (site) they are sent to. A valid session is
// never refused because of it: only the request that presents an unknown
// ID past the limit is throttled. Create it with NewUnknownIDLimiter; it is
// safe for concurrent use.
type UnknownIDLimiter struct {
	mu     sync.Mutex
	limit  int
	max    int
	window time.Time
	// The counts of the current window: clients finds a client's entry,
	// fewest orders the entries as a heap, fewest (then least recently
	// counted) first, so that its root is the one to forget. Keys and
	// indexes hold no pointers: 100,000 clients take about 10 MB.
	clients map[clientKey]int32 // index in entries
	entries []idCount
	fewest  []int32 // indexes in entries, as a heap
	seq     uint64
}

// clientKey is a ClientPrefix as 16 bytes: an IPv4 address in its
// IPv4-mapped form, an IPv6 /64 with its last 8 bytes zero (never an
// IPv4-mapped address, whose bytes 10 and 11 are 0xff).
type clientKey [16]byte

// idCount is one client network's unknown IDs in the current window.
type idCount struct {
	client clientKey
	n      int32
	at     int32  // index in fewest
	seq    uint64 // when it was last counted
}

// NewUnknownIDLimiter returns a limiter allowing perMinute unknown IDs per
// client network per minute; perMinute <= 0 never throttles (it still
// counts nothing and audits nothing).
func NewUnknownIDLimiter(perMinute int) *UnknownIDLimiter {
	return &UnknownIDLimiter{limit: perMinute, max: unknownIDMaxClients}
}

// hit records one unknown ID from ip and reports whether ip's network is
// now over the limit (the first call that crosses it returns first=true).
func (l *UnknownIDLimiter) hit(ip netip.Addr, now time.Time) (over, first bool) {
	if l == nil || l.limit <= 0 {
		return false, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := now.Truncate(time.Minute); !w.Equal(l.window) || l.clients == nil {
		l.window = w
		l.clients = make(map[clientKey]int32)
		l.entries, l.fewest = l.entries[:0], l.fewest[:0]
	}
	l.seq++
	key := clientKey(ClientPrefix(ip).Addr().As16())
	e, ok := l.clients[key]
	switch {
	case ok:
		l.entries[e].n++
	case len(l.entries) < l.max:
		e = int32(len(l.entries))
		l.entries = append(l.entries, idCount{at: int32(len(l.fewest))})
		l.fewest = append(l.fewest, e)
	default:
		// Forget the root (fewest, least recently counted) and reuse its
		// entry, which stays at the root until fixed below.
		e = l.fewest[0]
		delete(l.clients, l.entries[e].client)
		l.entries[e].n = 0
	}
	c := &l.entries[e]
	if !ok {
		c.client, c.n = key, 1
		l.clients[key] = e
	}
	c.seq = l.seq
	n := int(c.n)
	heap.Fix((*idHeap)(l), int(c.at))
	return n > l.limit, n == l.limit+1
}

// idHeap is the limiter's fewest as a container/heap.Interface, for
// heap.Fix (Push and Pop are never called: entries are reused in place).
type idHeap UnknownIDLimiter

func (h *idHeap) Len() int { return len(h.fewest) }
func (h *idHeap) Less(i, j int) bool {
	a, b := &h.entries[h.fewest[i]], &h.entries[h.fewest[j]]
	if a.n != b.n {
		return a.n < b.n
	}
	return a.seq < b.seq
}
func (h *idHeap) Swap(i, j int) {
	h.fewest[i], h.fewest[j] = h.fewest[j], h.fewest[i]
	h.entries[h.fewest[i]].at, h.entries[h.fewest[j]].at = int32(i), int32(j)
}
func (h *idHeap) Push(any) { panic("unused") }
func (h *idHeap) Pop() any { panic("unused") }

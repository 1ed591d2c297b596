package session

import (
	"net/netip"
	"time"
)

// Hit counts one unknown ID from ip at now, as a request would.
func (l *UnknownIDLimiter) Hit(ip netip.Addr, now time.Time) (over, first bool) {
	return l.hit(ip, now)
}

// Clients is how many client networks l counts.
func (l *UnknownIDLimiter) Clients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// MaxUnknownIDClients is unknownIDMaxClients.
const MaxUnknownIDClients = unknownIDMaxClients

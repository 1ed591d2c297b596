package session

import (
	"fmt"
	"net/netip"
)

// BindAction is what happens when a request's client no longer matches the
// one recorded with its session.
type BindAction int

const (
	// BindOff ignores the property (the default).
	BindOff BindAction = iota
	// BindReject serves the request without the session (it is kept for
	// its rightful client) and audits the mismatch.
	BindReject
	// BindRegenerate accepts the request, issues a new ID and records the
	// new value.
	BindRegenerate
	// BindLog accepts the request, records the new value and audits it.
	BindLog
)

// Binding ties a session to client properties. It is off by
// default because both properties change for honest reasons: load
// balancers and mobile networks move a client between IPs (use a /24 or
// /64 prefix, or BindLog), and browser updates or add-ons change the
// User-Agent. Neither stops an attacker who shares the victim's network
// or copies the User-Agent; they raise the bar, they are not a fix for a
// stolen ID.
type Binding struct {
	IP BindAction
	// IPv4Prefix and IPv6Prefix compare only the network part: 24 and 64
	// tolerate address changes within a subnet. Defaults 32 and 128
	// (exact).
	IPv4Prefix int
	IPv6Prefix int
	UserAgent  BindAction
}

func (b *Binding) validate() error {
	if b.IP < BindOff || b.IP > BindLog {
		return &ConfigError{"Binding.IP", fmt.Sprintf("unknown action %d", int(b.IP))}
	}
	if b.UserAgent < BindOff || b.UserAgent > BindLog {
		return &ConfigError{"Binding.UserAgent", fmt.Sprintf("unknown action %d", int(b.UserAgent))}
	}
	if b.IPv4Prefix == 0 {
		b.IPv4Prefix = 32
	}
	if b.IPv6Prefix == 0 {
		b.IPv6Prefix = 128
	}
	if b.IPv4Prefix < 1 || b.IPv4Prefix > 32 {
		return &ConfigError{"Binding.IPv4Prefix", fmt.Sprintf("%d is outside 1..32", b.IPv4Prefix)}
	}
	if b.IPv6Prefix < 1 || b.IPv6Prefix > 128 {
		return &ConfigError{"Binding.IPv6Prefix", fmt.Sprintf("%d is outside 1..128", b.IPv6Prefix)}
	}
	return nil
}

// sameIP compares two recorded IPs under the configured prefixes.
func (b *Binding) sameIP(recorded, now string) bool {
	a, err1 := netip.ParseAddr(recorded)
	c, err2 := netip.ParseAddr(now)
	if err1 != nil || err2 != nil {
		return recorded == now
	}
	a, c = a.Unmap(), c.Unmap()
	if a.Is4() != c.Is4() {
		return false
	}
	bits := b.IPv6Prefix
	if a.Is4() {
		bits = b.IPv4Prefix
	}
	pa, _ := a.Prefix(bits)
	pc, _ := c.Prefix(bits)
	return pa == pc
}

// bindingResult is the outcome of checking a record against a request.
type bindingResult struct {
	reject, regenerate, changed bool
	why                         string
}

func (b *Binding) check(rec *Record, ip, ua string) bindingResult {
	var res bindingResult
	apply := func(act BindAction, why string) {
		switch act {
		case BindReject:
			res.reject = true
		case BindRegenerate:
			res.regenerate = true
		}
		if act != BindOff {
			res.changed = true
			if res.why != "" {
				res.why += ","
			}
			res.why += why
		}
	}
	if b.IP != BindOff && rec.IP != "" && !b.sameIP(rec.IP, ip) {
		apply(b.IP, "ip")
	}
	if b.UserAgent != BindOff && rec.UserAgent != "" && rec.UserAgent != ua {
		apply(b.UserAgent, "user_agent")
	}
	return res
}

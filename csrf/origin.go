package csrf

import (
	"fmt"
	"net/http"
)

// Layer 1 is http.CrossOriginProtection, used as is: its Sec-Fetch-Site and
// Origin-versus-Host rules are the ones documented on that type. This file
// adds what the wrapper needs around it: trusted origins through Config and
// bypass patterns that exempt a route from both layers at once.

// CheckOrigin applies layer 1 alone (and the bypass patterns): for unsafe
// requests that carry no token of this Protection, such as the forms of an
// application behind a proxy, checked with the same trusted origins as the
// Protection's own forms. The error wraps ErrCrossOrigin.
func (p *Protection) CheckOrigin(r *http.Request) error {
	if p.bypassed(r) {
		return nil
	}
	return p.checkOrigin(r)
}

func (p *Protection) checkOrigin(r *http.Request) error {
	if err := p.origins.Check(r); err != nil {
		return fmt.Errorf("%w: %w", ErrCrossOrigin, err)
	}
	return nil
}

// AddTrustedOrigin lets unsafe requests whose Origin header is exactly
// origin ("scheme://host[:port]", no path) pass layer 1. The token layer
// still applies to them. It may be called concurrently with request
// handling and applies to later requests.
func (p *Protection) AddTrustedOrigin(origin string) error {
	if err := p.origins.AddTrustedOrigin(origin); err != nil {
		return fmt.Errorf("csrf: trusted origin: %w", err)
	}
	p.trusted.add(origin)
	return nil
}

// addBypass registers a bypass pattern; only New calls it, before the
// Protection serves, so p.bypass is read-only afterwards.
func (p *Protection) addBypass(pattern string) (err error) {
	if p.bypass == nil {
		p.bypass = http.NewServeMux()
	}
	defer func() {
		// ServeMux.Handle panics on an invalid or conflicting pattern.
		if v := recover(); v != nil {
			err = fmt.Errorf("csrf: bypass pattern %q: %v", pattern, v)
		}
	}()
	p.bypass.Handle(pattern, bypassSentinel)
	return nil
}

type sentinelHandler struct{}

func (sentinelHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

var bypassSentinel http.Handler = &sentinelHandler{}

// bypassed reports whether r matches a bypass pattern directly (a request
// that ServeMux would redirect to the pattern does not match).
func (p *Protection) bypassed(r *http.Request) bool {
	if p.bypass == nil {
		return false
	}
	h, _ := p.bypass.Handler(r)
	return h == bypassSentinel
}

package config

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Mode is a site's session mode.
type Mode string

// Session modes.
const (
	// ModeHTTPSOnly: one Secure cookie; sessions exist over HTTPS only.
	ModeHTTPSOnly Mode = "https-only"
	// ModeMixed: an insecure ID over HTTP and a secure ID over HTTPS on one
	// record; the secure partition is invisible over HTTP.
	ModeMixed Mode = "mixed"
	// ModeOff: no sessions (and no login) for this site.
	ModeOff Mode = "off"
)

// SameSite is the cookie's SameSite attribute.
type SameSite string

// SameSite values.
const (
	SameSiteLax    SameSite = "lax"
	SameSiteStrict SameSite = "strict"
	SameSiteNone   SameSite = "none"
)

// HTTP returns the net/http form.
func (s SameSite) HTTP() http.SameSite {
	switch s {
	case SameSiteStrict:
		return http.SameSiteStrictMode
	case SameSiteNone:
		return http.SameSiteNoneMode
	}
	return http.SameSiteLaxMode
}

// IPBinding ties a session to its client address.
type IPBinding string

// IP binding modes.
const (
	BindIPOff    IPBinding = "off"
	BindIPExact  IPBinding = "exact"
	BindIPSubnet IPBinding = "subnet" // /24 for IPv4, /64 for IPv6
)

// oneOf checks an enumerated value and explains the choices.
func oneOf[T ~string](dst *T, text []byte, choices ...T) error {
	v := T(text)
	if slices.Contains(choices, v) {
		*dst = v
		return nil
	}
	names := make([]string, len(choices))
	for i, c := range choices {
		names[i] = string(c)
	}
	return fmt.Errorf("%s is not one of %s", quote(string(text)), strings.Join(names, ", "))
}

// UnmarshalText implements encoding.TextUnmarshaler, accepting only the
// listed values; the same holds for the other enumerations.
func (m *Mode) UnmarshalText(b []byte) error {
	return oneOf(m, b, ModeHTTPSOnly, ModeMixed, ModeOff)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *SameSite) UnmarshalText(b []byte) error {
	return oneOf(s, b, SameSiteLax, SameSiteStrict, SameSiteNone)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (i *IPBinding) UnmarshalText(b []byte) error {
	return oneOf(i, b, BindIPOff, BindIPExact, BindIPSubnet)
}

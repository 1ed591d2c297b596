package secure

import "github.com/sessiond/sessiond/internal/enumtext"

// The text forms of the enumerations (encoding.TextMarshaler and
// TextUnmarshaler): a configuration file names them, and decodes into
// these types directly (the gateway's YAML does).
var (
	overallNames = []string{ByRules: "rules", Always: "always", Never: "never"}
	schemeNames  = []string{Stay: "stay", HTTPS: "https", HTTP: "http"}
	stateNames   = []string{AnyState: "any", Anonymous: "anonymous", Authenticated: "authenticated"}
)

// MarshalText returns "rules", "always" or "never".
func (o Overall) MarshalText() ([]byte, error) { return enumtext.Marshal(o, overallNames) }

// UnmarshalText accepts "rules", "always" or "never".
func (o *Overall) UnmarshalText(b []byte) error { return enumtext.Unmarshal(o, b, overallNames) }

// MarshalText returns "stay", "https" or "http".
func (s Scheme) MarshalText() ([]byte, error) { return enumtext.Marshal(s, schemeNames) }

// UnmarshalText accepts "stay" (no redirect: an exception to later
// rules), "https" or "http".
func (s *Scheme) UnmarshalText(b []byte) error { return enumtext.Unmarshal(s, b, schemeNames) }

// MarshalText returns "any", "anonymous" or "authenticated".
func (s State) MarshalText() ([]byte, error) { return enumtext.Marshal(s, stateNames) }

// UnmarshalText accepts "any", "anonymous" or "authenticated".
func (s *State) UnmarshalText(b []byte) error { return enumtext.Unmarshal(s, b, stateNames) }

func (o Overall) String() string { return enumtext.String(o, overallNames) }
func (s Scheme) String() string  { return enumtext.String(s, schemeNames) }
func (s State) String() string   { return enumtext.String(s, stateNames) }

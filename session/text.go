package session

import "github.com/sessiond/sessiond/internal/enumtext"

// The text forms of the enumerations (encoding.TextMarshaler and
// TextUnmarshaler): a configuration file names them, and decodes into
// these types directly (the gateway's YAML does).
var (
	modeNames        = []string{HTTPSOnly: "https-only", Mixed: "mixed"}
	theftActionNames = []string{RevokeUser: "revoke-user", DestroySession: "destroy", LogOnly: "log"}
	bindActionNames  = []string{BindOff: "off", BindReject: "reject", BindRegenerate: "regenerate", BindLog: "log"}
)

// MarshalText returns "https-only" or "mixed".
func (m Mode) MarshalText() ([]byte, error) { return enumtext.Marshal(m, modeNames) }

// UnmarshalText accepts "https-only" or "mixed".
func (m *Mode) UnmarshalText(b []byte) error { return enumtext.Unmarshal(m, b, modeNames) }

// MarshalText returns "revoke-user", "destroy" or "log".
func (a TheftAction) MarshalText() ([]byte, error) { return enumtext.Marshal(a, theftActionNames) }

// UnmarshalText accepts "revoke-user", "destroy" or "log".
func (a *TheftAction) UnmarshalText(b []byte) error {
	return enumtext.Unmarshal(a, b, theftActionNames)
}

// MarshalText returns "off", "reject", "regenerate" or "log".
func (a BindAction) MarshalText() ([]byte, error) { return enumtext.Marshal(a, bindActionNames) }

// UnmarshalText accepts "off", "reject", "regenerate" or "log".
func (a *BindAction) UnmarshalText(b []byte) error {
	return enumtext.Unmarshal(a, b, bindActionNames)
}

func (a TheftAction) String() string { return enumtext.String(a, theftActionNames) }
func (a BindAction) String() string  { return enumtext.String(a, bindActionNames) }

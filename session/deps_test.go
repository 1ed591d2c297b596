package session_test

import (
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
)

// TestStdlibOnly keeps package session free of third-party code: what it
// imports, directly or not, is the standard library or this module's
// stdlib-only internal packages.
func TestStdlibOnly(t *testing.T) {
	testenv.StdlibOnly(t, "github.com/sessiond/sessiond/session", "github.com/sessiond/sessiond/internal/token",
		"github.com/sessiond/sessiond/internal/enumtext", "github.com/sessiond/sessiond/internal/redirect", "github.com/sessiond/sessiond/internal/tick")
}

package wire_test

import (
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
)

// TestStdlibOnly keeps package wire what a backend can import without
// taking anything else along: the standard library only.
func TestStdlibOnly(t *testing.T) {
	testenv.StdlibOnly(t, "github.com/sessiond/sessiond/wire")
}

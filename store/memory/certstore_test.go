package memory_test

import (
	"testing"

	"github.com/sessiond/sessiond/gateway/acme"
	"github.com/sessiond/sessiond/gateway/acme/acmetest"
	"github.com/sessiond/sessiond/store/memory"
)

func TestCertStore(t *testing.T) {
	acmetest.KV(t, func(*testing.T) acme.KV { return memory.NewCertStore() })
}

package redis_test

import (
	"context"
	"testing"

	"github.com/sessiond/sessiond/gateway/acme"
	"github.com/sessiond/sessiond/gateway/acme/acmetest"
)

func TestCertStore(t *testing.T) {
	acmetest.KV(t, func(t *testing.T) acme.KV {
		s, _, _ := newStore(t, false)
		kv, err := s.CertStore(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return kv
	})
}

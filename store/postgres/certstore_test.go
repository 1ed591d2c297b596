package postgres_test

import (
	"context"
	"testing"

	"github.com/sessiond/sessiond/gateway/acme"
	"github.com/sessiond/sessiond/gateway/acme/acmetest"
	"github.com/sessiond/sessiond/store/postgres"
)

func TestCertStore(t *testing.T) {
	acmetest.KV(t, func(t *testing.T) acme.KV {
		c, err := newStore(t, postgres.Config{}).CertStore(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

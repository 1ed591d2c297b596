package postgres_test

import (
	"testing"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/postgres"
	"github.com/sessiond/sessiond/store/storetest"
)

func BenchmarkRequests(b *testing.B) {
	storetest.BenchmarkRequests(b, session.Config{Store: newStore(b, postgres.Config{})})
}

package postgres_test

import (
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/store/postgres"
	"github.com/sessiond/sessiond/store/storetest"
)

// TestBatchedLoadsNeverStale: concurrent Loads share round trips
// (store/internal/batch), and still see every write another store (other
// connections, as another gateway would) acknowledged before they began.
func TestBatchedLoadsNeverStale(t *testing.T) {
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	storetest.ReadsSeeOtherWriters(t,
		newStore(t, postgres.Config{URL: url, Schema: schema}),
		newStore(t, postgres.Config{URL: url, Schema: schema}))
}

// TestBatchedLoadsOfManySessions: a fetch of many hashes (= ANY) gives
// each Load its own record.
func TestBatchedLoadsOfManySessions(t *testing.T) {
	storetest.ConcurrentLoadsOfManySessions(t, newStore(t, postgres.Config{}))
}

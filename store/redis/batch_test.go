package redis_test

import (
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/storetest"
)

// TestBatchedLoadsNeverStale: concurrent Loads share pipelines
// (store/internal/batch), and still see every write another store (its
// own client and connections, as another gateway would) acknowledged
// before they began.
func TestBatchedLoadsNeverStale(t *testing.T) {
	reader, _, prefix := newStore(t, false)
	writer, err := redis.New(redis.Config{URL: testenv.RedisURL(t), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { writer.Close() })
	storetest.ReadsSeeOtherWriters(t, reader, writer)
}

// TestBatchedLoadsOfManySessions: a pipeline of many load scripts gives
// each Load its own record.
func TestBatchedLoadsOfManySessions(t *testing.T) {
	s, _, _ := newStore(t, false)
	storetest.ConcurrentLoadsOfManySessions(t, s)
}

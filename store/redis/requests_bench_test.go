package redis_test

import (
	"testing"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/storetest"
)

func BenchmarkRequests(b *testing.B) {
	s, _, _ := newStore(b, false)
	storetest.BenchmarkRequests(b, session.Config{Store: s})
}

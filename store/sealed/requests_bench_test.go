package sealed_test

import (
	"testing"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
	"github.com/sessiond/sessiond/store/sealed"
	"github.com/sessiond/sessiond/store/storetest"
)

func BenchmarkRequests(b *testing.B) {
	inner := memory.New(memory.Config{SweepInterval: -1})
	defer inner.Close()
	s, err := sealed.New(sealed.Config{Inner: inner, Keys: [][]byte{sealed.GenerateKey()}})
	if err != nil {
		b.Fatal(err)
	}
	storetest.BenchmarkRequests(b, session.Config{Store: s})
}

package remember_test

import (
	"testing"

	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/remember/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	tests := []struct {
		name string
		open func() remember.Store
	}{
		{"NewMemoryStore", func() remember.Store { return remember.NewMemoryStore() }},
		{"zero value", func() remember.Store { return &remember.MemoryStore{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(*testing.T) remember.Store { return tc.open() })
		})
	}
}

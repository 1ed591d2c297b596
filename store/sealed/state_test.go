package sealed_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/sessiond/sessiond/store/memory"
	"github.com/sessiond/sessiond/store/sealed"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestStateConformance(t *testing.T) {
	key := sealed.GenerateKey()
	storetest.State(t, func(t *testing.T) func(t *testing.T) storetest.StateStore {
		m := memory.New(memory.Config{SweepInterval: -1})
		t.Cleanup(func() { m.Close() })
		return func(t *testing.T) storetest.StateStore {
			s, err := sealed.NewState(sealed.StateConfig{Inner: m, Keys: [][]byte{key}})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// The database alone does not give the secret away: what the inner store
// keeps is not it, and another key (a stolen database opened with a key
// of the attacker's) derives another.
func TestStateSecretNotInTheDatabase(t *testing.T) {
	ctx := context.Background()
	m := memory.New(memory.Config{SweepInterval: -1})
	defer m.Close()
	open := func(key []byte) *sealed.State {
		s, err := sealed.NewState(sealed.StateConfig{Inner: m, Keys: [][]byte{key}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	got, err := open(sealed.GenerateKey()).Secret(ctx, "device-cookie")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := m.Secret(ctx, "device-cookie")
	if bytes.Equal(got, stored) {
		t.Fatal("the secret is the stored value itself")
	}
	other, _ := open(sealed.GenerateKey()).Secret(ctx, "device-cookie")
	if len(got) != 32 || bytes.Equal(got, other) {
		t.Fatalf("secrets under two keys: %x and %x; want two different 32-byte values", got, other)
	}
}

func TestNewStateValidates(t *testing.T) {
	m := memory.New(memory.Config{SweepInterval: -1})
	defer m.Close()
	for name, cfg := range map[string]sealed.StateConfig{
		"no inner": {Keys: [][]byte{sealed.GenerateKey()}},
		"no keys":  {Inner: m},
		"short":    {Inner: m, Keys: [][]byte{make([]byte, 16)}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := sealed.NewState(cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

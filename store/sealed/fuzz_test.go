package sealed_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
	"github.com/sessiond/sessiond/store/sealed"
	"github.com/sessiond/sessiond/store/storetest"
)

// FuzzLoad puts arbitrary bytes and users into a row of the inner store (a
// database the attacker writes to). Load never panics, answers not-found
// or unavailable for anything but the genuine row, and the genuine row
// opens to its data.
func FuzzLoad(f *testing.F) {
	key := make([]byte, seal.KeySize)
	key[0] = 1 // fixed, so seeds made here open in every fuzz worker
	ctx := context.Background()
	inner := memory.New(memory.Config{SweepInterval: -1})
	s, err := sealed.New(sealed.Config{Inner: inner, Keys: [][]byte{key}, Logger: discard()})
	if err != nil {
		f.Fatal(err)
	}
	rec := storetest.NewRecord()
	rec.User = "alice"
	rec.Data = map[string]string{"secure.pan": pan}
	if err := s.Create(ctx, rec.Clone()); err != nil {
		f.Fatal(err)
	}
	genuine, _ := inner.Load(ctx, rec.ID)
	f.Add(genuine.Sealed, "alice")
	f.Add([]byte{}, "alice")
	f.Add([]byte{1, 0, 0, 0, 0}, "")
	f.Fuzz(func(t *testing.T, blob []byte, user string) {
		cur, err := inner.Load(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		row := cur.Clone()
		row.Sealed, row.User, row.Version = blob, user, cur.Version+1
		if err := inner.Update(ctx, row, cur.Version); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx, rec.ID)
		if err != nil {
			if !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrUnavailable) {
				t.Fatalf("Load error %v is neither not-found nor unavailable", err)
			}
			return
		}
		if user != "alice" || got.Data["secure.pan"] != pan || len(got.Data) != 1 {
			t.Fatalf("a forged row opened: user %q data %v", user, got.Data)
		}
	})
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

package cookie_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/sessiond/sessiond/store/sqlite"
)

// The revocation list an SQLite store hands out (sqlite.Store.Revocations,
// as the gateway's cookie store uses it: one pool set for the file).
func init() {
	implementations = append(implementations, struct {
		name string
		make func(t *testing.T) gcRevocations
	}{"sqlite-store", func(t *testing.T) gcRevocations {
		s, err := sqlite.New(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "rev.db"),
			Synchronous: "NORMAL", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		r, err := s.Revocations(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}})
}

package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/sqlite"
	"github.com/sessiond/sessiond/store/storetest"
)

func BenchmarkRequests(b *testing.B) {
	s, err := sqlite.New(b.Context(), sqlite.Config{Path: filepath.Join(b.TempDir(), "s.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkRequests(b, session.Config{Store: s})
}

package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sessiond/sessiond/store/sqlite"
)

func Example() {
	dir, err := os.MkdirTemp("", "sessiond-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	s, err := sqlite.New(ctx, sqlite.Config{
		Path:    filepath.Join(dir, "sessions.db"),
		Timeout: 2 * time.Second, // requests get 503 rather than wait longer
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	// Collect expired sessions now and then (the Manager does not).
	n, err := s.GC(ctx, time.Now())
	fmt.Println(n, err)
	// Output: 0 <nil>
}

package cookie_test

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/store/cookie"
	"github.com/sessiond/sessiond/store/sqlite"
)

// cachedSQLRevocations caches answers behind sqlite.ChangeWatcher, as the
// gateway does; writer is a second database handle on the same file (other
// connections, as another gateway process would have).
func cachedSQLRevocations(t *testing.T) (cached, writer *cookie.SQLRevocations, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "rev.db")
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxIdleConns(4)
		t.Cleanup(func() { db.Close() })
		if err := db.Ping(); err != nil {
			t.Fatal(err)
		}
		return db
	}
	rdb := open()
	w, err := sqlite.WatchChanges(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	ctx := context.Background()
	if cached, err = cookie.NewSQLRevocations(ctx, cookie.SQLConfig{DB: rdb, Version: w.Version}); err != nil {
		t.Fatal(err)
	}
	if writer, err = cookie.NewSQLRevocations(ctx, cookie.SQLConfig{DB: open()}); err != nil {
		t.Fatal(err)
	}
	return cached, writer, path
}

func init() {
	implementations = append(implementations, struct {
		name string
		make func(t *testing.T) gcRevocations
	}{"sqlite-cached", func(t *testing.T) gcRevocations { c, _, _ := cachedSQLRevocations(t); return c }})
}

// A revocation written through other connections is seen by the very next
// check of a warm cache.
func TestCachedRevocationsSeeOtherConnections(t *testing.T) {
	ctx := context.Background()
	cached, writer, _ := cachedSQLRevocations(t)
	for i := range 20 {
		ref, user := fmt.Sprintf("ref-%d", i), fmt.Sprintf("user-%d", i)
		for range 3 { // warm
			if revoked, err := cached.RefRevoked(ctx, ref); err != nil || revoked {
				t.Fatalf("RefRevoked(%s) before revocation = %v, %v", ref, revoked, err)
			}
			if before, err := cached.RevokedBefore(ctx, user); err != nil || !before.IsZero() {
				t.Fatalf("RevokedBefore(%s) = %v, %v", user, before, err)
			}
		}
		if err := writer.RevokeRef(ctx, ref, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if revoked, err := cached.RefRevoked(ctx, ref); err != nil || !revoked {
			t.Fatalf("RefRevoked(%s) right after another connection revoked it = %v, %v (stale cache)", ref, revoked, err)
		}
		at := time.Now()
		if err := writer.SetRevokedBefore(ctx, user, at); err != nil {
			t.Fatal(err)
		}
		if before, err := cached.RevokedBefore(ctx, user); err != nil || before.Before(at) {
			t.Fatalf("RevokedBefore(%s) right after another connection set %v = %v, %v (stale cache)", user, at, before, err)
		}
	}
}

// ... and so is one written by another process (the sqlite3 shell).
func TestCachedRevocationsSeeOtherProcesses(t *testing.T) {
	sqlite3 := testenv.LookPath(t, "sqlite3")
	ctx := context.Background()
	cached, _, path := cachedSQLRevocations(t)
	for range 3 {
		if revoked, err := cached.RefRevoked(ctx, "stolen"); err != nil || revoked {
			t.Fatalf("RefRevoked = %v, %v", revoked, err)
		}
	}
	out, err := exec.Command(sqlite3, "-cmd", ".timeout 5000", path,
		"INSERT INTO sessiond_cookie_revoked_refs (ref, until_ms) VALUES ('stolen', 0)").CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	if revoked, err := cached.RefRevoked(ctx, "stolen"); err != nil || !revoked {
		t.Fatalf("RefRevoked right after another process revoked it = %v, %v (stale cache)", revoked, err)
	}
}

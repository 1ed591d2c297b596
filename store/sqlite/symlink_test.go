package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/sqlite"
	"github.com/sessiond/sessiond/store/storetest"
)

// symlinkedDB makes a database at dir/data/s.db (opened once through real,
// so that it exists with its -shm) and a symlink dir/s.db to it, with a
// stray dir/s.db-shm beside the symlink: a copy of a real WAL index, as a
// database moved behind a symlink leaves. SQLite itself follows the
// symlink and keeps its -shm beside the real file; the stray never changes.
func symlinkedDB(t *testing.T) (real, link string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	real, link = filepath.Join(dir, "data", "s.db"), filepath.Join(dir, "s.db")
	newStore(t, sqlite.Config{Path: real, CacheSize: -1}) // creates the file; open while the stray is copied
	shm, err := os.ReadFile(real + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(link+"-shm", shm, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("data", "s.db"), link); err != nil {
		t.Fatal(err)
	}
	return real, link
}

// TestSymlinkedPathNeverStale: opened through a symlink beside a stray
// -shm, the read cache and the ChangeWatcher (the cookie store's
// revocation cache) still see every commit made through the real path —
// a session deleted by another store handle is never served again.
func TestSymlinkedPathNeverStale(t *testing.T) {
	ctx := context.Background()
	deleters := []struct {
		name   string
		delete func(t *testing.T, real string, rec *session.Record)
	}{
		{"another store handle", func(t *testing.T, real string, rec *session.Record) {
			if err := newStore(t, sqlite.Config{Path: real, CacheSize: -1}).Delete(ctx, rec.Ref); err != nil {
				t.Fatal(err)
			}
		}},
		{"another process", func(t *testing.T, real string, rec *session.Record) {
			sql := fmt.Sprintf("DELETE FROM sessions WHERE ref = '%s'", rec.Ref)
			if out, err := exec.Command(testenv.LookPath(t, "sqlite3"), "-cmd", ".timeout 5000", real, sql).CombinedOutput(); err != nil {
				t.Fatalf("sqlite3 %q: %v\n%s", sql, err, out)
			}
		}},
	}
	for _, d := range deleters {
		t.Run("read cache, deleted by "+d.name, func(t *testing.T) {
			real, link := symlinkedDB(t)
			reader := newStore(t, sqlite.Config{Path: link})
			rec := storetest.NewRecord()
			if err := reader.Create(ctx, rec.Clone()); err != nil {
				t.Fatal(err)
			}
			for range 3 { // warm
				if _, err := reader.Load(ctx, rec.ID); err != nil {
					t.Fatal(err)
				}
			}
			d.delete(t, real, rec)
			if got, err := reader.Load(ctx, rec.ID); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("a session deleted through the real path was served through the symlink: %+v, %v", got, err)
			}
		})
	}
	t.Run("change watcher", func(t *testing.T) {
		real, link := symlinkedDB(t)
		writer := newStore(t, sqlite.Config{Path: real, CacheSize: -1})
		w, err := sqlite.WatchChanges(link)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		before, ok := w.Version()
		if !ok {
			t.Fatal("the watcher cannot tell on an idle database")
		}
		if err := writer.Create(ctx, storetest.NewRecord()); err != nil {
			t.Fatal(err)
		}
		if after, ok := w.Version(); ok && after == before {
			t.Fatal("a commit through the real path left the symlinked path's version unchanged")
		}
	})
}

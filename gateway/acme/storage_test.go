package acme

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/sessiond/sessiond/store/memory"
)

// TestStorageDirectories: certmagic sees keys as paths; the flat KV's
// "directories" are the prefixes of its keys.
func TestStorageDirectories(t *testing.T) {
	ctx := context.Background()
	s := newStorage(memory.NewCertStore(), slog.New(slog.DiscardHandler))
	for _, k := range []string{"certificates/ca/a.test/a.test.crt", "certificates/ca/a.test/a.test.key", "certificates/ca/b.test/b.test.crt", "acme/ca/users/x.json", "last_clean.json"} {
		if err := s.Store(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		dir       string
		recursive bool
		want      []string
	}{
		{"certificates", false, []string{"certificates/ca"}},
		{"certificates/ca", false, []string{"certificates/ca/a.test", "certificates/ca/b.test"}},
		{"certificates", true, []string{"certificates/ca/a.test/a.test.crt", "certificates/ca/a.test/a.test.key", "certificates/ca/b.test/b.test.crt"}},
		{"", false, []string{"acme", "certificates", "last_clean.json"}},
	} {
		got, err := s.List(ctx, c.dir, c.recursive)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("List(%q, %v) = %q, %v; want %q", c.dir, c.recursive, got, err, c.want)
		}
	}
	if _, err := s.List(ctx, "nothing", false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of a missing directory: %v, want fs.ErrNotExist", err)
	}
	if ki, err := s.Stat(ctx, "certificates/ca/a.test"); err != nil || ki.IsTerminal {
		t.Errorf("Stat of a directory = %+v, %v; want a non-terminal key", ki, err)
	}
	if ki, err := s.Stat(ctx, "last_clean.json"); err != nil || !ki.IsTerminal || ki.Size != int64(len("last_clean.json")) {
		t.Errorf("Stat of a key = %+v, %v", ki, err)
	}
	if s.Exists(ctx, "certificates/c") || !s.Exists(ctx, "certificates/ca") {
		t.Error("Exists judges prefixes of keys, not of names")
	}
	if err := s.Delete(ctx, "certificates/ca/a.test"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.List(ctx, "certificates", true); !slices.Equal(got, []string{"certificates/ca/b.test/b.test.crt"}) {
		t.Errorf("after deleting a directory: %q", got)
	}
}

// TestStorageLockWaits: a second holder waits for the lock (and gives up
// when its context ends) and gets it once the holder releases it.
func TestStorageLockWaits(t *testing.T) {
	ctx := context.Background()
	kv := memory.NewCertStore()
	a, b := newStorage(kv, slog.New(slog.DiscardHandler)), newStorage(kv, slog.New(slog.DiscardHandler))
	if err := a.Lock(ctx, "issue_cert_a.test"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, "issue_cert_a.test"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b.Lock on a held lock = %v, want to wait until its context ends", err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "issue_cert_a.test") }()
	time.Sleep(100 * time.Millisecond)
	if err := a.Unlock(ctx, "issue_cert_a.test"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b did not get the lock a released")
	}
	b.Unlock(ctx, "issue_cert_a.test")
}

package htpasswd

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// TestRemovedUsersReported: a reload that drops users reports exactly
// them, and Has stops knowing them; a reload that only adds reports
// nothing.
func TestRemovedUsersReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := Add(path, u, u+"-pw", 4); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Open(Config{Path: path, CheckInterval: -1, Logger: quietLogger(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got [][]string
	f.OnChange(func(removed []string) {
		mu.Lock()
		got = append(got, removed)
		mu.Unlock()
	})
	if !f.Has("bob") || f.Has("mallory") {
		t.Fatal("Has before the change")
	}
	for _, u := range []string{"bob", "carol"} {
		if err := Remove(path, u); err != nil {
			t.Fatal(err)
		}
	}
	if f.Has("bob") || f.Has("carol") || !f.Has("alice") {
		t.Fatal("Has did not follow the removal")
	}
	if err := Add(path, "dave", "dave-pw", 4); err != nil {
		t.Fatal(err)
	}
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !slices.Equal(got[0], []string{"bob", "carol"}) {
		t.Fatalf("OnChange calls = %v, want one with [bob carol]", got)
	}
}

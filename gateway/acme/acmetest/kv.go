// Package acmetest checks an acme.KV implementation: every store
// package's certificate store runs it against its real database.
package acmetest

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/acme"
)

// KV runs the conformance tests on the KV that newKV returns; each call
// must return an empty one (its own key prefix or table).
func KV(t *testing.T, newKV func(t *testing.T) acme.KV) {
	ctx := context.Background()
	t.Run("missing", func(t *testing.T) {
		kv := newKV(t)
		if _, err := kv.Load(ctx, "certificates/none/none.crt"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load of a missing key: %v, want fs.ErrNotExist", err)
		}
		if _, _, err := kv.Stat(ctx, "certificates/none/none.crt"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat of a missing key: %v, want fs.ErrNotExist", err)
		}
		if err := kv.Delete(ctx, "certificates/none/none.crt"); err != nil {
			t.Errorf("Delete of a missing key: %v", err)
		}
		if keys, err := kv.List(ctx, "certificates/"); err != nil || len(keys) != 0 {
			t.Errorf("List of an empty store: %q, %v", keys, err)
		}
	})
	t.Run("store load stat delete", func(t *testing.T) {
		kv := newKV(t)
		key := "certificates/acme-v02/app.example.com/app.example.com.crt"
		before := time.Now().Add(-2 * time.Second)
		for _, v := range [][]byte{[]byte("first"), {0, 1, 2, 0xff, 0}, {}} {
			if err := kv.Store(ctx, key, v); err != nil {
				t.Fatal(err)
			}
			got, err := kv.Load(ctx, key)
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("Load = %q, %v; want %q", got, err, v)
			}
			size, mod, err := kv.Stat(ctx, key)
			if err != nil || size != int64(len(v)) || mod.Before(before) || mod.After(time.Now().Add(2*time.Second)) {
				t.Fatalf("Stat = %d, %v, %v; want %d, about now", size, mod, err, len(v))
			}
		}
		if err := kv.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Load(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load after Delete: %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("list by prefix", func(t *testing.T) {
		kv := newKV(t)
		// '%', '_' and '*' are wildcards of LIKE and SCAN patterns: a
		// prefix holding them must match only itself.
		keys := []string{"a/b/c", "a/b/d", "a/bc", "a/x%y/1", "a/x_y/1", "a/xzy/1", "a/x*y/1", "b/a"}
		for _, k := range keys {
			if err := kv.Store(ctx, k, []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"a/b/", []string{"a/b/c", "a/b/d"}},
			{"a/b", []string{"a/b/c", "a/b/d", "a/bc"}},
			{"a/x%y/", []string{"a/x%y/1"}},
			{"a/x_y/", []string{"a/x_y/1"}},
			{"a/x*y/", []string{"a/x*y/1"}},
			{"", keys},
			{"c/", nil},
		} {
			got, err := kv.List(ctx, c.prefix)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(c.want))
			if !slices.Equal(got, want) {
				t.Errorf("List(%q) = %q, want %q", c.prefix, got, want)
			}
		}
	})
	t.Run("lock", func(t *testing.T) {
		kv := newKV(t)
		const name = "issue_cert_app.example.com"
		lock := func(owner string, ttl time.Duration) bool {
			t.Helper()
			ok, err := kv.Lock(ctx, name, owner, ttl)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !lock("a", time.Minute) {
			t.Fatal("a free lock was not taken")
		}
		if lock("b", time.Minute) {
			t.Fatal("b took a's lock")
		}
		if !lock("a", time.Minute) {
			t.Fatal("a could not extend its own lock")
		}
		if err := kv.Unlock(ctx, name, "b"); err != nil {
			t.Fatal(err)
		}
		if lock("b", time.Minute) {
			t.Fatal("b's Unlock freed a's lock")
		}
		if err := kv.Unlock(ctx, name, "a"); err != nil {
			t.Fatal(err)
		}
		if !lock("b", 300*time.Millisecond) {
			t.Fatal("the lock a freed was not taken")
		}
		if lock("a", time.Minute) {
			t.Fatal("a took b's lock before it expired")
		}
		time.Sleep(600 * time.Millisecond) // past b's expiry, with a margin for a server clock
		if !lock("a", time.Minute) {
			t.Fatal("an expired lock (its holder gone) was not taken")
		}
		if lock("b", time.Minute) {
			t.Fatal("b took a's lock")
		}
		if !lock("a", time.Minute) || kv.Unlock(ctx, "other lock", "a") != nil || lock("b", time.Minute) {
			t.Fatal("locks of other names interfere")
		}
	})
}

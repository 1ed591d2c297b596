package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/session"
)

// BadInput feeds s records and names no store could keep — nil, an empty
// or hostile ref, a user that is not text, a version that does not follow
// its predecessor — and checks each is refused with an error wrapping
// badRecord (the store's own sentinel), never a panic and never one of the
// session sentinels a caller would act on. Lookups by hostile names find
// nothing and are not errors. A record listing one hash twice (an alias
// equal to its ID) does not collide with itself on Create or Update.
func BadInput(t *testing.T, s session.Store, badRecord error) {
	ctx := context.Background()
	withRef := func(ref string) *session.Record { r := NewRecord(); r.Ref = ref; return r }
	withUser := func(u string) *session.Record { r := NewRecord(); r.User = u; return r }
	cases := []struct {
		name string
		op   func() error
	}{
		{"create nil", func() error { return s.Create(ctx, nil) }},
		{"create empty ref", func() error { return s.Create(ctx, withRef("")) }},
		{"create NUL in ref", func() error { return s.Create(ctx, withRef("a\x00b")) }},
		{"create non-UTF-8 ref", func() error { return s.Create(ctx, withRef("\xff\xfe")) }},
		{"create huge ref", func() error { return s.Create(ctx, withRef(strings.Repeat("r", 16<<10))) }},
		{"create NUL in user", func() error { return s.Create(ctx, withUser("bob\x00")) }},
		{"create non-UTF-8 user", func() error { return s.Create(ctx, withUser("\xc3")) }},
		{"update nil", func() error { return s.Update(ctx, nil, 1) }},
		{"update version not prev+1", func() error { r := NewRecord(); r.Version = 7; return s.Update(ctx, r, 1) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op()
			if !errors.Is(err, badRecord) {
				t.Fatalf("got %v, want an error wrapping %v", err, badRecord)
			}
			for _, sentinel := range []error{session.ErrNotFound, session.ErrCollision, session.ErrUnavailable, session.ErrConflict} {
				if errors.Is(err, sentinel) {
					t.Fatalf("bad input reported as %v", sentinel)
				}
			}
		})
	}
	lookups := []struct {
		name string
		op   func() error
	}{
		{"delete hostile ref", func() error { return s.Delete(ctx, "../\x00\xff") }},
		{"list hostile user", func() error { _, err := s.ListUser(ctx, "\x00\xff"); return err }},
		{"list anonymous", func() error { _, err := s.ListUser(ctx, ""); return err }},
	}
	for _, tc := range lookups {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); err != nil {
				t.Fatalf("got %v, want nil (nothing stored under that name)", err)
			}
		})
	}
	t.Run("one hash twice in a record", func(t *testing.T) {
		r := NewRecord()
		r.Aliases = []session.Alias{{Hash: r.ID}, {Hash: r.ID, Secure: true}}
		if err := s.Create(ctx, r.Clone()); err != nil {
			t.Fatalf("Create: %v", err)
		}
		next := r.Clone()
		next.Version, next.SecureID = 2, r.ID
		if err := s.Update(ctx, next, 1); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if got, err := s.Load(ctx, r.ID); err != nil || got.Version != 2 {
			t.Fatalf("Load = %v, %v; want version 2", got, err)
		}
	})
}

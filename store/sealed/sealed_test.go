package sealed_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
	"github.com/sessiond/sessiond/store/sealed"
	"github.com/sessiond/sessiond/store/storetest"
)

const pan = "4111111111111111"

func newMemory(t *testing.T) *memory.Store {
	t.Helper()
	m := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { m.Close() })
	return m
}

func newSealed(t *testing.T, cfg sealed.Config) session.Store {
	t.Helper()
	s, err := sealed.New(cfg)
	if err != nil {
		t.Fatalf("sealed.New: %v", err)
	}
	return s
}

// logBuffer returns a logger writing JSON lines into a buffer.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, nil)), &buf
}

func TestConformance(t *testing.T) {
	key := seal.GenerateKey()
	storetest.Run(t, func(t *testing.T) session.Store {
		return newSealed(t, sealed.Config{Inner: newMemory(t), Keys: [][]byte{key}})
	})
}

// Two wrappers stacked (with different keys) still pass: the wrapper
// carries an outer wrapper's Sealed through untouched.
func TestConformanceStacked(t *testing.T) {
	inner, outer := seal.GenerateKey(), seal.GenerateKey()
	storetest.Run(t, func(t *testing.T) session.Store {
		in := newSealed(t, sealed.Config{Inner: newMemory(t), Keys: [][]byte{inner}})
		return newSealed(t, sealed.Config{Inner: in, Keys: [][]byte{outer}})
	})
}

func TestNewRejects(t *testing.T) {
	key := seal.GenerateKey()
	cases := []struct {
		name string
		cfg  sealed.Config
		want string
	}{
		{"no inner", sealed.Config{Keys: [][]byte{key}}, "Inner is nil"},
		{"no keys", sealed.Config{Inner: memory.New(memory.Config{SweepInterval: -1})}, "key ring is empty"},
		{"short key", sealed.Config{Inner: memory.New(memory.Config{SweepInterval: -1}), Keys: [][]byte{key[:16]}}, "key 1: 16 bytes, want 32"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := sealed.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// The inner store — what a database dump shows — never holds the data in
// plaintext, after Create, after Update, and in its user index.
func TestInnerSeesNoPlaintext(t *testing.T) {
	ctx := context.Background()
	inner := newMemory(t)
	s := newSealed(t, sealed.Config{Inner: inner, Keys: [][]byte{seal.GenerateKey()}})
	rec := storetest.NewRecord()
	rec.User = "alice"
	rec.Data = map[string]string{"secure.pan": pan, "cart": "sku-123456789"}
	if err := s.Create(ctx, rec.Clone()); err != nil {
		t.Fatal(err)
	}
	next := rec.Clone()
	next.Version = 2
	next.Data["secure.pan2"] = "5500005555555559"
	steps := []struct {
		name  string
		apply func() error
		want  []string // secrets that must not appear
	}{
		{"after Create", func() error { return nil }, []string{pan, "sku-123456789"}},
		{"after Update", func() error { return s.Update(ctx, next.Clone(), 1) }, []string{pan, "5500005555555559", "sku-123456789"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.apply(); err != nil {
				t.Fatal(err)
			}
			raw, err := inner.Load(ctx, rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			listed, err := inner.ListUser(ctx, "alice")
			if err != nil || len(listed) != 1 {
				t.Fatalf("inner ListUser = %d, %v", len(listed), err)
			}
			for _, r := range []*session.Record{raw, listed[0]} {
				if len(r.Data) != 0 || len(r.Sealed) == 0 {
					t.Fatalf("inner record has Data %d keys, Sealed %d bytes; want none, some", len(r.Data), len(r.Sealed))
				}
				b, err := session.MarshalRecord(r)
				if err != nil {
					t.Fatal(err)
				}
				for _, secret := range st.want {
					if bytes.Contains(b, []byte(secret)) || bytes.Contains(r.Sealed, []byte(secret)) {
						t.Fatalf("%q visible in the inner record: %s", secret, b)
					}
				}
			}
			// Through the wrapper it reads back.
			got, err := s.Load(ctx, rec.ID)
			if err != nil || got.Data["secure.pan"] != pan {
				t.Fatalf("wrapper Load = %v, %v", got, err)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	oldK, newK := seal.GenerateKey(), seal.GenerateKey()
	inner := newMemory(t)
	before := newSealed(t, sealed.Config{Inner: inner, Keys: [][]byte{oldK}})
	rec := storetest.NewRecord()
	rec.Data = map[string]string{"cart": "1,2"}
	if err := before.Create(ctx, rec.Clone()); err != nil {
		t.Fatal(err)
	}
	rotated := newSealed(t, sealed.Config{Inner: inner, Keys: [][]byte{newK, oldK}})

	got, err := rotated.Load(ctx, rec.ID)
	if err != nil || got.Data["cart"] != "1,2" {
		t.Fatalf("old record after rotation: %v, %v", got, err)
	}
	// The next write re-seals under the new key.
	next := got.Clone()
	next.Version = 2
	if err := rotated.Update(ctx, next, 1); err != nil {
		t.Fatal(err)
	}
	raw, _ := inner.Load(ctx, rec.ID)
	newRing, _ := seal.New(seal.Config{Purpose: sealed.Purpose, Keys: [][]byte{newK}})
	if id, _ := seal.BlobKeyID(raw.Sealed); id != newRing.KeyIDs()[0] {
		t.Fatalf("after a write the record is sealed with key %v, want the new key %v", id, newRing.KeyIDs()[0])
	}

	cases := []struct {
		name    string
		cfg     sealed.Config
		wantErr error // nil: opens
	}{
		{"ring with only the new key opens it", sealed.Config{Keys: [][]byte{newK}}, nil},
		{"node still on the old ring fails loudly", sealed.Config{Keys: [][]byte{oldK}}, session.ErrUnavailable},
		{"retired key on purpose: not found", sealed.Config{Keys: [][]byte{oldK}, UnknownKeyNotFound: true}, session.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log, buf := logBuffer()
			tc.cfg.Inner, tc.cfg.Logger = inner, log
			got, err := newSealed(t, tc.cfg).Load(ctx, rec.ID)
			if tc.wantErr == nil {
				if err != nil || got.Data["cart"] != "1,2" {
					t.Fatalf("Load = %v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !errors.Is(err, seal.ErrUnknownKey) {
				t.Fatalf("Load error = %v, want %v wrapping seal.ErrUnknownKey", err, tc.wantErr)
			}
			if !strings.Contains(buf.String(), `"level":"ERROR"`) || !strings.Contains(buf.String(), rec.Ref) {
				t.Fatalf("no error logged with the record's ref: %s", buf)
			}
		})
	}
}

// A database writer edits rows directly in the inner store. None of the
// edits may produce a row that opens.
func TestTamperedRowsDoNotOpen(t *testing.T) {
	ctx := context.Background()
	key := seal.GenerateKey()
	_, attackerHash := token.New()
	cases := []struct {
		name      string
		plaintext bool                                // Config.AllowPlaintext
		edit      func(victim, other *session.Record) // edits the victim's inner row
		load      session.Hash                        // zero: the victim's ID
		wantErr   error                               // nil: the row opens
	}{
		{"sealed data swapped with another row", false,
			func(v, o *session.Record) { v.Sealed = o.Sealed }, session.Hash{}, session.ErrNotFound},
		{"bit flipped in the ciphertext", false,
			func(v, _ *session.Record) { v.Sealed[len(v.Sealed)-20] ^= 1 }, session.Hash{}, session.ErrNotFound},
		{"bit flipped in the tag", false,
			func(v, _ *session.Record) { v.Sealed[len(v.Sealed)-1] ^= 0x80 }, session.Hash{}, session.ErrNotFound},
		{"truncated", false,
			func(v, _ *session.Record) { v.Sealed = v.Sealed[:len(v.Sealed)-1] }, session.Hash{}, session.ErrNotFound},
		{"user changed to admin", false,
			func(v, _ *session.Record) { v.User = "admin" }, session.Hash{}, session.ErrNotFound},
		{"ID hash replaced by the attacker's", false,
			func(v, _ *session.Record) { v.ID = attackerHash }, attackerHash, session.ErrNotFound},
		{"plaintext data planted", false,
			func(v, _ *session.Record) { v.Sealed, v.Data = nil, map[string]string{"role": "admin"} }, session.Hash{}, session.ErrNotFound},
		{"plaintext data with AllowPlaintext (migration) opens", true,
			func(v, _ *session.Record) { v.Sealed, v.Data = nil, map[string]string{"role": "admin"} }, session.Hash{}, nil},
		{"key ID byte changed: reported as a ring problem", false,
			func(v, _ *session.Record) { v.Sealed[1] ^= 1 }, session.Hash{}, session.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inner := newMemory(t)
			log, buf := logBuffer()
			s := newSealed(t, sealed.Config{Inner: inner, Keys: [][]byte{key}, Logger: log, AllowPlaintext: tc.plaintext})
			victim, other := storetest.NewRecord(), storetest.NewRecord()
			victim.User, other.User = "alice", "admin"
			victim.Data = map[string]string{"secure.pan": pan}
			other.Data = map[string]string{"role": "admin"}
			for _, r := range []*session.Record{victim, other} {
				if err := s.Create(ctx, r.Clone()); err != nil {
					t.Fatal(err)
				}
			}
			rawV, _ := inner.Load(ctx, victim.ID)
			rawO, _ := inner.Load(ctx, other.ID)
			edited := rawV.Clone()
			tc.edit(edited, rawO.Clone())
			edited.Version = rawV.Version + 1
			if err := inner.Update(ctx, edited, rawV.Version); err != nil {
				t.Fatalf("editing the inner row: %v", err)
			}
			h := tc.load
			if h.IsZero() {
				h = victim.ID
			}
			got, err := s.Load(ctx, h)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Load = %v, want the row to open", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Load = %v, %v; want %v", got, err, tc.wantErr)
			}
			if tc.wantErr == session.ErrNotFound && errors.Is(err, session.ErrUnavailable) {
				t.Fatalf("tampering reported as unavailable: %v", err)
			}
			logged := buf.String()
			if !strings.Contains(logged, victim.Ref) || !strings.Contains(logged, `"level":"ERROR"`) {
				t.Fatalf("tampering not logged as an error with the ref: %s", logged)
			}
			for _, secret := range []string{pan, victim.ID.Hex(), attackerHash.Hex(), seal.FormatKey(key)} {
				if strings.Contains(logged, secret) {
					t.Fatalf("log contains a secret: %s", logged)
				}
			}
		})
	}
}

// ListUser returns a record that does not open, unopened, so that revoking
// every session of the user still reaches it.
func TestListUserKeepsUnopenedRecords(t *testing.T) {
	ctx := context.Background()
	inner := newMemory(t)
	oldK, newK := seal.GenerateKey(), seal.GenerateKey()
	log, _ := logBuffer()
	s := newSealed(t, sealed.Config{Inner: inner, Keys: [][]byte{newK}, Logger: log})
	stale := newSealed(t, sealed.Config{Inner: inner, Keys: [][]byte{oldK}, Logger: log})
	good, lost := storetest.NewRecord(), storetest.NewRecord()
	good.User, lost.User = "carol", "carol"
	if err := s.Create(ctx, good.Clone()); err != nil {
		t.Fatal(err)
	}
	if err := stale.Create(ctx, lost.Clone()); err != nil { // sealed with a key s lacks
		t.Fatal(err)
	}
	list, err := s.ListUser(ctx, "carol")
	if err != nil {
		t.Fatalf("ListUser = %v", err)
	}
	byRef := map[string]*session.Record{}
	for _, r := range list {
		byRef[r.Ref] = r
	}
	if r := byRef[good.Ref]; r == nil || r.Data["k"] != "v" || r.Sealed != nil {
		t.Fatalf("opened record = %+v", r)
	}
	if r := byRef[lost.Ref]; r == nil || r.Data != nil || len(r.Sealed) == 0 {
		t.Fatalf("unopened record missing or not marked: %+v", r)
	}
	for _, r := range list { // revoke all
		if err := s.Delete(ctx, r.Ref); err != nil {
			t.Fatal(err)
		}
	}
	if n := inner.Len(); n != 0 {
		t.Fatalf("%d records left after revoking every listed session", n)
	}
}

// lockingMemory is the memory store plus a real in-process lock, standing in
// for a store that implements session.Locker (Redis, PostgreSQL).
type lockingMemory struct {
	*memory.Store
	mu     sync.Mutex
	locked []string
}

func (l *lockingMemory) Lock(ctx context.Context, ref string) (func(), error) {
	l.mu.Lock()
	l.locked = append(l.locked, ref)
	return l.mu.Unlock, nil
}

func TestLockerForwarded(t *testing.T) {
	key := seal.GenerateKey()
	t.Run("inner without Locker", func(t *testing.T) {
		s := newSealed(t, sealed.Config{Inner: newMemory(t), Keys: [][]byte{key}})
		if _, ok := s.(session.Locker); ok {
			t.Fatal("wrapper claims to lock although the inner store cannot")
		}
	})
	t.Run("inner with Locker", func(t *testing.T) {
		inner := &lockingMemory{Store: newMemory(t)}
		s := newSealed(t, sealed.Config{Inner: inner, Keys: [][]byte{key}})
		l, ok := s.(session.Locker)
		if !ok {
			t.Fatal("wrapper hides the inner store's Locker")
		}
		unlock, err := l.Lock(context.Background(), "ref-1")
		if err != nil {
			t.Fatal(err)
		}
		unlock()
		if diff := cmp.Diff([]string{"ref-1"}, inner.locked); diff != "" {
			t.Fatalf("inner locks (-want +got):\n%s", diff)
		}
	})
}

// The record read back equals the one written, field by field.
func TestRoundTripAllFields(t *testing.T) {
	ctx := context.Background()
	s := newSealed(t, sealed.Config{Inner: newMemory(t), Keys: [][]byte{seal.GenerateKey()}})
	r := storetest.NewRecord()
	r.User, r.IP, r.UserAgent = "dave", "2001:db8::1", "curl/8"
	r.Data = map[string]string{"": "empty key", "empty": "", "nul": "\x00", "secure.pan": pan}
	r.Sealed = []byte("outer wrapper blob")
	want := r.Clone()
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
}

func TestKeyHelpers(t *testing.T) {
	k := sealed.GenerateKey()
	keys, err := sealed.ParseKeys("# at-rest keys\n" + sealed.FormatKey(k) + "\n")
	if err != nil || len(keys) != 1 || !bytes.Equal(keys[0], k) {
		t.Fatalf("ParseKeys = %d keys, %v", len(keys), err)
	}
	if _, err := sealed.ReadKeyFile(t.TempDir() + "/missing"); err == nil {
		t.Fatal("ReadKeyFile of a missing file succeeded")
	}
}

package cookie_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/cookie"
)

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "rev.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newSQLRevocations(t *testing.T) *cookie.SQLRevocations {
	t.Helper()
	r, err := cookie.NewSQLRevocations(context.Background(), cookie.SQLConfig{DB: openSQLite(t)})
	if err != nil {
		t.Fatalf("NewSQLRevocations: %v", err)
	}
	return r
}

// gcRevocations is a Revocations with GC, as both implementations have.
type gcRevocations interface {
	cookie.Revocations
	GC(ctx context.Context, now time.Time) (int, error)
}

var implementations = []struct {
	name string
	make func(t *testing.T) gcRevocations
}{
	{"memory", func(t *testing.T) gcRevocations { return cookie.NewMemoryRevocations() }},
	{"sqlite", func(t *testing.T) gcRevocations { return newSQLRevocations(t) }},
}

// The same behaviour from every implementation of Revocations.
func TestRevocationsContract(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		fn   func(t *testing.T, r gcRevocations)
	}{
		{"unknown user has no time", func(t *testing.T, r gcRevocations) {
			if got, err := r.RevokedBefore(ctx, "nobody"); err != nil || !got.IsZero() {
				t.Fatalf("RevokedBefore = %v, %v; want zero", got, err)
			}
		}},
		{"user time only moves forward", func(t *testing.T, r gcRevocations) {
			for _, set := range []time.Time{t0, t0.Add(-time.Hour), t0} {
				if err := r.SetRevokedBefore(ctx, "alice", set); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := r.RevokedBefore(ctx, "alice"); err != nil || !got.Equal(t0) {
				t.Fatalf("RevokedBefore = %v, %v; want %v", got, err, t0)
			}
			if err := r.SetRevokedBefore(ctx, "alice", t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if got, _ := r.RevokedBefore(ctx, "alice"); !got.Equal(t0.Add(time.Minute)) {
				t.Fatalf("RevokedBefore = %v after moving forward", got)
			}
			if got, _ := r.RevokedBefore(ctx, "bob"); !got.IsZero() {
				t.Fatal("another user was revoked too")
			}
		}},
		{"ref revocation and GC", func(t *testing.T, r gcRevocations) {
			refs := map[string]time.Time{"short": t0.Add(time.Minute), "long": t0.Add(time.Hour), "forever": {}}
			for ref, until := range refs {
				if err := r.RevokeRef(ctx, ref, until); err != nil {
					t.Fatal(err)
				}
			}
			// Extending works, shortening does not, forever stays forever.
			for ref, until := range map[string]time.Time{"short": t0.Add(2 * time.Hour), "long": t0, "forever": t0} {
				if err := r.RevokeRef(ctx, ref, until); err != nil {
					t.Fatal(err)
				}
			}
			n, err := r.GC(ctx, t0.Add(90*time.Minute))
			if err != nil || n != 1 {
				t.Fatalf("GC = %d, %v; want 1 (only %q ended)", n, err, "long")
			}
			for ref, want := range map[string]bool{"short": true, "long": false, "forever": true, "never": false} {
				if got, err := r.RefRevoked(ctx, ref); err != nil || got != want {
					t.Errorf("RefRevoked(%q) = %v, %v; want %v", ref, got, err, want)
				}
			}
		}},
	}
	for _, impl := range implementations {
		for _, tc := range cases {
			t.Run(impl.name+"/"+tc.name, func(t *testing.T) { tc.fn(t, impl.make(t)) })
		}
	}
}

func TestRevokeUser(t *testing.T) {
	ctx := context.Background()
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			clk := testkit.NewClock(t0)
			c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now, Revocations: impl.make(t)})
			encode := func(user string, rotated time.Time) string {
				rec := typical()
				rec.User, rec.Rotated = user, rotated
				v, err := c.Encode(ctx, "sid", rec)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			// Theft response at t0: revoke every cookie alice holds.
			stolen := encode("alice", t0.Add(-time.Minute))
			sameMs := encode("alice", t0.Add(500*time.Microsecond))
			fresh := encode("alice", t0.Add(time.Millisecond))
			bob := encode("bob", t0.Add(-time.Minute))
			anon := encode("", t0.Add(-time.Minute))
			if err := c.RevokeUser(ctx, "", "alice", t0.Add(100*time.Microsecond)); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name  string
				value string
				ok    bool
			}{
				{"cookie issued before is refused", stolen, false},
				{"cookie of the same millisecond counts as before", sameMs, false},
				{"cookie regenerated after is accepted", fresh, true},
				{"other user unaffected", bob, true},
				{"anonymous session unaffected", anon, true},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					if !tc.ok {
						mustRefuse(t, c, "sid", tc.value)
						return
					}
					if _, err := c.Decode(ctx, "sid", "", tc.value); err != nil {
						t.Fatalf("Decode = %v", err)
					}
				})
			}
		})
	}
}

func TestRevokeRef(t *testing.T) {
	ctx := context.Background()
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			clk := testkit.NewClock(t0)
			c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now, Revocations: impl.make(t)})
			rec := typical()
			before, err := c.Encode(ctx, "sid", rec)
			if err != nil {
				t.Fatal(err)
			}
			// A later cookie of the same session (regenerated, new data).
			later := rec.Clone()
			later.Rotated, later.Version = t0, 13
			latest, err := c.Encode(ctx, "sid", later)
			if err != nil {
				t.Fatal(err)
			}
			other, err := c.Encode(ctx, "sid", typical())
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Decode(ctx, "sid", "", latest)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Revoke(ctx, got); err != nil { // logout
				t.Fatal(err)
			}
			mustRefuse(t, c, "sid", latest)
			mustRefuse(t, c, "sid", before) // replay of an earlier cookie of the session
			if _, err := c.Decode(ctx, "sid", "", other); err != nil {
				t.Fatalf("another session was revoked too: %v", err)
			}
		})
	}
}

// The revocation outlives every cookie of the session: it is kept until
// now + the session's expiry window (+1 minute), and then forgotten.
func TestRevokeKeepsUntilCookiesExpire(t *testing.T) {
	ctx := context.Background()
	clk := testkit.NewClock(t0)
	rev := cookie.NewMemoryRevocations()
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now, Revocations: rev})
	rec := typical()
	rec.LastSeen, rec.Expires = t0.Add(-10*time.Minute), t0.Add(20*time.Minute) // 30-minute window
	if err := c.Revoke(ctx, rec); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		gcAt time.Time
		kept bool
	}{
		{"kept past the presented cookie's expiry", t0.Add(25 * time.Minute), true},
		{"kept for a full window from now", t0.Add(30*time.Minute + 59*time.Second), true},
		{"forgotten after window and margin", t0.Add(31*time.Minute + time.Second), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := rev.GC(ctx, tc.gcAt); err != nil {
				t.Fatal(err)
			}
			if got, _ := rev.RefRevoked(ctx, rec.Ref); got != tc.kept {
				t.Fatalf("RefRevoked after GC at %v = %v, want %v", tc.gcAt.Sub(t0), got, tc.kept)
			}
		})
	}
}

func TestRevokeWithoutRevocations(t *testing.T) {
	ctx := context.Background()
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}})
	cases := []struct {
		name string
		call func() error
	}{
		{"Revoke", func() error { return c.Revoke(ctx, typical()) }},
		{"RevokeUser", func() error { return c.RevokeUser(ctx, "", "alice", t0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, errors.ErrUnsupported) {
				t.Fatalf("%s = %v, want errors.ErrUnsupported", tc.name, err)
			}
		})
	}
}

// A revocation store that cannot answer fails the request as unavailable:
// never a silently accepted (possibly revoked) cookie.
func TestRevocationStoreDown(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t)
	rev, err := cookie.NewSQLRevocations(ctx, cookie.SQLConfig{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	clk := testkit.NewClock(t0)
	c := newCodec(t, cookie.Config{Keys: [][]byte{seal.GenerateKey()}, Now: clk.Now, Revocations: rev})
	v, err := c.Encode(ctx, "sid", typical())
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	cases := []struct {
		name string
		call func() error
	}{
		{"Decode", func() error { _, err := c.Decode(ctx, "sid", "", v); return err }},
		{"Revoke", func() error { return c.Revoke(ctx, typical()) }},
		{"RevokeUser", func() error { return c.RevokeUser(ctx, "", "alice", t0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, session.ErrUnavailable) || errors.Is(err, session.ErrNotFound) {
				t.Fatalf("%s = %v, want session.ErrUnavailable", tc.name, err)
			}
		})
	}
	// A cookie that is invalid anyway is refused without asking the store.
	mustRefuse(t, c, "sid", v[:len(v)-1])
}

func TestNewSQLRevocationsRejects(t *testing.T) {
	cases := []struct {
		name string
		cfg  cookie.SQLConfig
	}{
		{"no DB", cookie.SQLConfig{}},
		{"negative timeout", cookie.SQLConfig{DB: openSQLite(t), Timeout: -time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := cookie.NewSQLRevocations(context.Background(), tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

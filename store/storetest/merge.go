package storetest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
)

// Writers is how many concurrent writers ConcurrentWriters runs: 1,000
// concurrent requests on one session, each setting its own key.
const Writers = 1000

// ConcurrentWriters runs Writers concurrent requests through a Manager on
// one session of store, each setting its own key, and fails unless every
// request succeeds and every key is there afterwards. It runs on every
// store, with Merger or without (then compare-and-swap with backoff must
// get there too). Run calls it; stores may call it with other settings.
func ConcurrentWriters(t *testing.T, store session.Store) {
	m, err := session.New(session.Config{Store: store, Auditor: &session.SlogAuditor{}})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if k := r.URL.Query().Get("k"); k != "" {
			s.Set(k, "v")
		}
	}))
	do := func(cookie, key string) *http.Response {
		r := httptest.NewRequest("POST", "https://storetest.test/?k="+key, nil)
		r.TLS = &tls.ConnectionState{}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r.WithContext(ctx))
		return w.Result()
	}
	first := do("", "first")
	cookies := first.Cookies()
	if first.StatusCode != 200 || len(cookies) == 0 {
		t.Fatalf("first request: %s, %d cookies", first.Status, len(cookies))
	}
	cookie := cookies[0].Name + "=" + cookies[0].Value
	var ok atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, Writers)
	start := make(chan struct{})
	for i := range Writers {
		wg.Go(func() {
			<-start
			resp := do(cookie, "w"+strconv.Itoa(i))
			if resp.StatusCode != 200 {
				errs <- resp.Status
				return
			}
			ok.Add(1)
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a writer failed: %s", e)
		break
	}
	_, h0 := parseCookie(t, cookies[0].Value)
	rec := mustLoad(t, store, h0)
	missing := 0
	for i := range Writers {
		if _, found := rec.Data["w"+strconv.Itoa(i)]; !found {
			missing++
		}
	}
	if ok.Load() != Writers || missing != 0 {
		t.Fatalf("%d of %d writers succeeded, %d keys missing", ok.Load(), Writers, missing)
	}
}

// mergeTests are Merger's rules (see session.Merger), for stores with it.
func mergeTests(ctx context.Context) []struct {
	name string
	fn   func(t *testing.T, s session.Store)
} {
	merger := func(t *testing.T, s session.Store) session.Merger {
		m, ok := s.(session.Merger)
		if !ok {
			t.Skip("store does not implement session.Merger")
		}
		return m
	}
	// change makes the change set {set k=v} on base, as the Manager would.
	change := func(base *session.Record, set map[string]string, del ...string) *session.Change {
		next := base.Clone()
		c := &session.Change{Base: base, Set: set, Del: del}
		next.Data, _ = c.MergeData(base.Data)
		next.Version = base.Version + 1
		next.LastSeen = time.Now().Truncate(time.Microsecond)
		c.Next = next
		return c
	}
	created := func(t *testing.T, s session.Store) *session.Record {
		r := NewRecord()
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		return mustLoad(t, s, r.ID)
	}
	return []struct {
		name string
		fn   func(t *testing.T, s session.Store)
	}{
		{"MergeOnBaseVersionStoresNext", func(t *testing.T, s session.Store) {
			m := merger(t, s)
			base := created(t, s)
			c := change(base, map[string]string{"a": "1"}, "k")
			c.Next.User, c.Meta = "alice-"+token.Ref(), true
			if err := m.Merge(ctx, c); err != nil {
				t.Fatalf("Merge: %v", err)
			}
			mustEqual(t, c.Next, mustLoad(t, s, base.ID))
			// The user index follows (a sign-in that kept the IDs).
			rs, err := s.ListUser(ctx, c.Next.User)
			if err != nil || len(rs) != 1 || rs[0].Ref != base.Ref {
				t.Fatalf("ListUser after a merge that set the user = %d records, %v; want the merged one", len(rs), err)
			}
		}},
		{"MergeOnNewerVersionKeepsBothWriters", func(t *testing.T, s session.Store) {
			m := merger(t, s)
			base := created(t, s)
			a := change(base, map[string]string{"a": "1"})
			b := change(base, map[string]string{"b": "2"}, "k")
			if err := m.Merge(ctx, a); err != nil {
				t.Fatal(err)
			}
			if err := m.Merge(ctx, b); err != nil {
				t.Fatalf("second writer on the same base: %v (a merge never conflicts on data)", err)
			}
			got := mustLoad(t, s, base.ID)
			if got.Data["a"] != "1" || got.Data["b"] != "2" || len(got.Data) != 2 || got.Version != base.Version+2 {
				t.Fatalf("after two merges on one base: data %v version %d, want a=1 b=2 (k deleted), version %d",
					got.Data, got.Version, base.Version+2)
			}
		}},
		{"MergeThatChangesNothingWritesNothing", func(t *testing.T, s session.Store) {
			m := merger(t, s)
			base := created(t, s)
			if err := m.Merge(ctx, change(base, map[string]string{"a": "1"})); err != nil {
				t.Fatal(err)
			}
			before := mustLoad(t, s, base.ID)
			// A second writer on the old base re-sends values already there.
			if err := m.Merge(ctx, change(base, map[string]string{"a": "1", "k": "v"}, "gone")); err != nil {
				t.Fatal(err)
			}
			after := mustLoad(t, s, base.ID)
			if after.Version != before.Version {
				t.Fatalf("a merge that changed nothing wrote version %d over %d", after.Version, before.Version)
			}
		}},
		{"MergeClearKeepsPrefix", func(t *testing.T, s session.Store) {
			m := merger(t, s)
			r := NewRecord()
			r.Data = map[string]string{"cart": "1", "secure.pan": "4111", "x": "y"}
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			base := mustLoad(t, s, r.ID)
			if err := m.Merge(ctx, change(base, map[string]string{"n": "1"})); err != nil {
				t.Fatal(err)
			}
			c := change(base, map[string]string{"new": "2"})
			c.Clear, c.Keep = true, "secure."
			if err := m.Merge(ctx, c); err != nil {
				t.Fatal(err)
			}
			got := mustLoad(t, s, base.ID).Data
			if len(got) != 2 || got["secure.pan"] != "4111" || got["new"] != "2" {
				t.Fatalf("clear keeping secure.: data %v, want secure.pan and new only", got)
			}
		}},
		{"MergeClearThenSetsAValueItHad", func(t *testing.T, s session.Store) {
			m := merger(t, s)
			for _, stale := range []bool{false, true} {
				r := NewRecord()
				r.Data = map[string]string{"a": "1", "b": "2"}
				if err := s.Create(ctx, r); err != nil {
					t.Fatal(err)
				}
				base := mustLoad(t, s, r.ID)
				if stale { // the change set is applied to a newer version
					if err := m.Merge(ctx, change(base, map[string]string{"b": "3"})); err != nil {
						t.Fatal(err)
					}
				}
				c := &session.Change{Base: base, Set: map[string]string{"a": "1"}, Clear: true} // a: the value it had
				c.Next = base.Clone()
				c.Next.Data, _ = c.MergeData(base.Data)
				c.Next.Version = base.Version + 1
				if err := m.Merge(ctx, c); err != nil {
					t.Fatal(err)
				}
				if got := mustLoad(t, s, base.ID).Data; len(got) != 1 || got["a"] != "1" {
					t.Fatalf("clear then set a=1 (stale base %v): data %v, want a=1 only", stale, got)
				}
			}
		}},
		{"MergeLargeChangeSets", func(t *testing.T, s session.Store) {
			m := merger(t, s)
			base := created(t, s)
			const n = 2500 // more than a store might send in one command
			set := make(map[string]string, n)
			del := make([]string, 0, n)
			for i := range n {
				set[fmt.Sprint("key", i)] = fmt.Sprint(i)
				del = append(del, fmt.Sprint("key", i))
			}
			if err := m.Merge(ctx, change(base, set)); err != nil {
				t.Fatal(err)
			}
			mid := mustLoad(t, s, base.ID)
			if len(mid.Data) != n+1 || mid.Data["key2499"] != "2499" {
				t.Fatalf("after setting %d keys: %d keys", n, len(mid.Data))
			}
			if err := m.Merge(ctx, change(mid, map[string]string{"key0": "new"}, del[1:]...)); err != nil {
				t.Fatal(err)
			}
			if got := mustLoad(t, s, base.ID).Data; len(got) != 2 || got["key0"] != "new" || got["k"] != "v" {
				t.Fatalf("after deleting %d keys: %d keys (key0=%q)", n-1, len(got), got["key0"])
			}
		}},
		{"MergeMetaOnNewerVersionSameIdentity", func(t *testing.T, s session.Store) {
			m := merger(t, s)
			base := created(t, s)
			if err := m.Merge(ctx, change(base, map[string]string{"a": "1"})); err != nil {
				t.Fatal(err)
			}
			// A rotation built on the old base: new ID, old one an alias.
			rot := change(base, map[string]string{"b": "2"})
			rot.Meta = true
			rot.Next.ID = newHash()
			rot.Next.Generation++
			rot.Next.Aliases = []session.Alias{{Hash: base.ID, Until: time.Now().Add(time.Minute).Truncate(time.Microsecond)}}
			if err := m.Merge(ctx, rot); err != nil {
				t.Fatalf("rotation after a data write: %v (identity unchanged: must merge)", err)
			}
			got := mustLoad(t, s, rot.Next.ID)
			want := rot.Next.Clone()
			want.Data = map[string]string{"k": "v", "a": "1", "b": "2"}
			want.Version = base.Version + 2
			mustEqual(t, want, got)
			mustEqual(t, want, mustLoad(t, s, base.ID)) // the alias names it too
		}},
		{"MergeMetaConflictsOnNewIdentity", func(t *testing.T, s session.Store) {
			m := merger(t, s)
			base := created(t, s)
			login := change(base, nil)
			login.Meta, login.Next.User = true, "alice"
			login.Next.ID = newHash()
			login.Next.Aliases = []session.Alias{{Hash: base.ID, Until: time.Now().Add(time.Minute)}}
			if err := m.Merge(ctx, login); err != nil {
				t.Fatal(err)
			}
			other := change(base, map[string]string{"a": "1"})
			other.Meta, other.Next.User = true, "mallory"
			err := m.Merge(ctx, other)
			if !errors.Is(err, session.ErrConflict) {
				t.Fatalf("a user change on a superseded identity: %v, want ErrConflict", err)
			}
			got := mustLoad(t, s, login.Next.ID)
			if got.User != "alice" || got.Data["a"] != "" {
				t.Fatalf("a conflicting merge wrote something: user %q data %v", got.User, got.Data)
			}
		}},
		{"MergeDataConflictsOnNewUser", func(t *testing.T, s session.Store) {
			// Rule 4: a data change built before a login, a change of user
			// or a sign-out (a hard rotation) never reaches the new identity.
			for _, tc := range []struct{ name, before, after string }{
				{"login", "", "alice"},
				{"user change", "alice", "bob"},
				{"sign-out", "alice", ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					m := merger(t, s)
					r := NewRecord()
					r.User = tc.before
					if err := s.Create(ctx, r); err != nil {
						t.Fatal(err)
					}
					base := mustLoad(t, s, r.ID)
					login := change(base, nil)
					login.Meta, login.Next.User = true, tc.after
					login.Next.ID, login.Next.Generation = newHash(), base.Generation+1
					login.Next.Aliases = []session.Alias{{Hash: base.ID, Until: time.Now().Add(time.Minute).Truncate(time.Microsecond)}}
					if err := m.Merge(ctx, login); err != nil {
						t.Fatal(err)
					}
					want := mustLoad(t, s, login.Next.ID)
					for _, stale := range []*session.Change{
						change(base, map[string]string{"cart": "evil"}),
						change(base, nil, "k"),
						func() *session.Change {
							c := change(base, nil)
							c.Count, c.Next.Requests = true, base.Requests+1
							return c
						}(),
					} {
						if err := m.Merge(ctx, stale); !errors.Is(err, session.ErrConflict) {
							t.Fatalf("a data change built before the %s: %v, want ErrConflict", tc.name, err)
						}
					}
					mustEqual(t, want, mustLoad(t, s, login.Next.ID))
				})
			}
		}},
		{"MergeDataAfterRotationOfSameUser", func(t *testing.T, s session.Store) {
			// A regeneration that keeps the user (periodic, Regenerate)
			// does not stop a data change built before it: writes never
			// fail because of concurrency.
			m := merger(t, s)
			r := NewRecord()
			r.User = "alice-" + token.Ref()
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			base := mustLoad(t, s, r.ID)
			rot := change(base, nil)
			rot.Meta = true
			rot.Next.ID, rot.Next.Generation = newHash(), base.Generation+1
			rot.Next.Aliases = []session.Alias{{Hash: base.ID, Until: time.Now().Add(time.Minute).Truncate(time.Microsecond)}}
			if err := m.Merge(ctx, rot); err != nil {
				t.Fatal(err)
			}
			if err := m.Merge(ctx, change(base, map[string]string{"cart": "2"})); err != nil {
				t.Fatalf("a data change built before a rotation that kept the user: %v", err)
			}
			if got := mustLoad(t, s, rot.Next.ID); got.Data["cart"] != "2" || got.User != r.User {
				t.Fatalf("after the merge: data %v user %q", got.Data, got.User)
			}
		}},
		{"MergeCountsEveryRequest", func(t *testing.T, s session.Store) {
			m := merger(t, s)
			base := created(t, s)
			for i := range 3 { // three concurrent requests on one base, each counted
				c := change(base, map[string]string{fmt.Sprint("k", i): "1"})
				c.Count, c.Next.Requests = true, base.Requests+1
				if err := m.Merge(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			c := change(base, nil) // a counted request that changes no data
			c.Count, c.Next.Requests = true, base.Requests+1
			if err := m.Merge(ctx, c); err != nil {
				t.Fatal(err)
			}
			if got := mustLoad(t, s, base.ID).Requests; got != base.Requests+4 {
				t.Fatalf("Requests = %d after 4 counted merges on one base, want %d", got, base.Requests+4)
			}
			// A rotation starts the count again, whatever was counted meanwhile.
			rot := change(base, nil)
			rot.Count, rot.Meta = true, true
			rot.Next.ID, rot.Next.Generation, rot.Next.Requests = newHash(), base.Generation+1, 0
			rot.Next.Aliases = []session.Alias{{Hash: base.ID, Until: time.Now().Add(time.Minute).Truncate(time.Microsecond)}}
			if err := m.Merge(ctx, rot); err != nil {
				t.Fatal(err)
			}
			if got := mustLoad(t, s, rot.Next.ID).Requests; got != 0 {
				t.Fatalf("Requests = %d after a rotation, want 0", got)
			}
		}},
		{"MergeNotFound", func(t *testing.T, s session.Store) {
			m := merger(t, s)
			r := NewRecord()
			if err := m.Merge(ctx, change(r, map[string]string{"a": "1"})); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Merge of an absent record: %v, want ErrNotFound", err)
			}
		}},
		{"ConcurrentWriters", func(t *testing.T, s session.Store) { ConcurrentWriters(t, s) }},
		{"ConcurrentLogins", func(t *testing.T, s session.Store) { ConcurrentLogins(t, s) }},
		{"StaleWriteAfterLogin", func(t *testing.T, s session.Store) { StaleWriteAfterLogin(t, s) }},
		{"StaleLogoutAfterLogin", func(t *testing.T, s session.Store) { StaleLogoutAfterLogin(t, s) }},
	}
}

func parseCookie(t *testing.T, v string) (string, session.Hash) {
	t.Helper()
	h, ok := token.Parse(v)
	if !ok {
		t.Fatalf("cookie value is not a session ID (%d bytes)", len(v))
	}
	return v, h
}

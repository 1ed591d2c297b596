package oidc

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/store/memory"
)

func TestIdentify(t *testing.T) {
	base := config.DefaultOIDC()
	base.GroupsClaim = "groups"
	staff := base
	staff.AllowedGroups = []string{"staff"}
	domain := base
	domain.AllowedDomains = []string{"example.com"}
	emails := base
	emails.AllowedEmails = []string{"alice@example.com"}
	byEmail := base
	byEmail.UserClaim = "email"
	alice := map[string]any{"sub": "u-alice", "email": "Alice@Example.com", "email_verified": true, "groups": []any{"staff", "ops"}, "sid": "s1"}
	unverified := map[string]any{"sub": "u-eve", "email": "alice@example.com", "email_verified": false, "groups": []any{"staff"}}
	for _, tc := range []struct {
		name   string
		cfg    config.OIDC
		claims map[string]any
		user   string
		why    string
	}{
		{"anyone", base, alice, "u-alice", ""},
		{"in the group", staff, alice, "u-alice", ""},
		{"not in the group", staff, map[string]any{"sub": "u-m", "groups": []any{"guests"}}, "u-m", "group_not_allowed"},
		{"groups as one string", staff, map[string]any{"sub": "u-m", "groups": "staff"}, "u-m", ""},
		{"group with a comma is dropped", staff, map[string]any{"sub": "u-m", "groups": []any{"staff,admins"}}, "u-m", "group_not_allowed"},
		{"domain any case", domain, alice, "u-alice", ""},
		{"unverified email counts for nothing", domain, unverified, "u-eve", "domain_not_allowed"},
		{"allowed email", emails, alice, "u-alice", ""},
		{"unverified allowed email", emails, unverified, "u-eve", "email_not_allowed"},
		{"user from the email claim", byEmail, alice, "Alice@Example.com", ""},
		{"no user claim", byEmail, map[string]any{"sub": "u-x"}, "", "user_claim_missing"},
		{"user claim not a string", base, map[string]any{"sub": 42}, "", "user_claim_missing"},
		{"user claim with a newline", base, map[string]any{"sub": "a\nb"}, "a\nb", "user_claim_missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Method{cfg: tc.cfg}
			who, why := m.identify(tc.claims)
			if who.user != tc.user || why != tc.why {
				t.Fatalf("identify = %q, %q; want %q, %q", who.user, why, tc.user, tc.why)
			}
		})
	}
}

// TestLogouts: a back-channel logout recorded through one handle on the
// store ends, read through another, the sessions of its sid (any time)
// and of its sub signed in before it.
func TestLogouts(t *testing.T) {
	st := memory.New(memory.Config{})
	rec := logouts{st: st, scope: "https://op\x00shop", keep: time.Hour}
	t0 := time.Now()
	if err := rec.record(t.Context(), "sid-1", "", t0); err != nil {
		t.Fatal(err)
	}
	if err := rec.record(t.Context(), "", "sub-2", t0); err != nil {
		t.Fatal(err)
	}
	read := logouts{st: st, scope: "https://op\x00shop", keep: time.Hour}
	for _, tc := range []struct {
		name     string
		sid, sub string
		since    time.Time
		want     bool
	}{
		{"its sid", "sid-1", "sub-x", t0.Add(-time.Minute), true},
		{"its sid, signed in later", "sid-1", "sub-x", t0.Add(time.Minute), true},
		{"its sub", "sid-x", "sub-2", t0.Add(-time.Minute), true},
		{"its sub, signed in after the logout", "sid-x", "sub-2", t0.Add(time.Second), false},
		{"another session", "sid-3", "sub-3", t0.Add(-time.Minute), false},
		{"no sid nor sub", "", "", t0.Add(-time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := read.ended(t.Context(), tc.sid, tc.sub, tc.since)
			if err != nil || got != tc.want {
				t.Fatalf("ended = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	other := logouts{st: st, scope: "https://op\x00outlet", keep: time.Hour}
	if got, err := other.ended(t.Context(), "sid-1", "sub-2", t0.Add(-time.Minute)); err != nil || got {
		t.Fatalf("another realm's session ended = %v, %v", got, err)
	}
	// A second logout of the sub ends what signed in between the two.
	between := t0.Add(time.Minute)
	if got, err := read.ended(t.Context(), "sid-y", "sub-2", between); err != nil || got {
		t.Fatalf("before the second logout: ended = %v, %v", got, err)
	}
	if err := rec.record(t.Context(), "", "sub-2", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := read.ended(t.Context(), "sid-y", "sub-2", between); err != nil || !got {
		t.Fatalf("after the second logout: ended = %v, %v; want true", got, err)
	}
	if got, err := read.ended(t.Context(), "sid-z", "sub-2", t0.Add(3*time.Minute)); err != nil || got {
		t.Fatalf("signed in after both: ended = %v, %v; want false", got, err)
	}
}

// TestCheckReauth: a re-authentication counts only for the session's own
// user and subject, proven at the provider since it was asked.
func TestCheckReauth(t *testing.T) {
	started := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	p := pending{Reauth: true, Started: started.Unix()}
	at := func(d time.Duration) map[string]any {
		return map[string]any{"auth_time": float64(started.Add(d).Unix())}
	}
	alice := identity{user: "alice"}
	for _, tc := range []struct {
		name, user, sub, subject string
		claims                   map[string]any
		who                      identity
		want                     string
	}{
		{"fresh", "alice", "u-a", "u-a", at(5 * time.Second), alice, ""},
		{"within the clock skew", "alice", "u-a", "u-a", at(-authTimeSkew), alice, ""},
		{"before it was asked", "alice", "u-a", "u-a", at(-authTimeSkew - time.Second), alice, "stale_auth_time"},
		{"an hour old", "alice", "u-a", "u-a", at(-time.Hour), alice, "stale_auth_time"},
		{"no auth_time", "alice", "u-a", "u-a", map[string]any{}, alice, "no_auth_time"},
		{"auth_time not a number", "alice", "u-a", "u-a", map[string]any{"auth_time": "now"}, alice, "no_auth_time"},
		{"another subject", "alice", "u-a", "u-b", at(0), alice, "another_user"},
		{"another user name", "alice", "u-a", "u-a", at(0), identity{user: "bob"}, "another_user"},
		{"session signed out meanwhile", "", "", "u-a", at(0), alice, "not_signed_in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkReauth(tc.user, tc.sub, p, tc.subject, tc.claims, tc.who); got != tc.want {
				t.Fatalf("checkReauth = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRefreshOncePerSession: a session's concurrent requests share one
// refresh (a provider rotating refresh tokens refuses a second use).
func TestRefreshOncePerSession(t *testing.T) {
	s := newRefreshSet()
	var calls atomic.Int32
	now := time.Now()
	var wg sync.WaitGroup
	results := make([]refreshResult, 20)
	for i := range results {
		wg.Go(func() {
			ref := "r1"
			if i%2 == 1 {
				ref = "r2"
			}
			results[i] = s.do(ref, now, time.Minute, func() refreshResult {
				calls.Add(1)
				time.Sleep(10 * time.Millisecond)
				return refreshResult{at: now, refresh: "new-" + ref}
			})
		})
	}
	wg.Wait()
	if calls.Load() != 2 {
		t.Fatalf("%d refreshes for two sessions, want 2", calls.Load())
	}
	if slices.ContainsFunc(results, func(r refreshResult) bool { return r.refresh == "" }) {
		t.Fatalf("a request got no result: %+v", results)
	}
}

func TestSigninIndex(t *testing.T) {
	x := newSigninIndex()
	now := time.Now()
	x.add("sid-1", "sub-a", "alice", "ref-1", now, now.Add(time.Hour))
	x.add("sid-2", "sub-a", "alice", "ref-2", now, now.Add(time.Hour))
	x.add("sid-3", "sub-b", "bob", "ref-3", now, now.Add(time.Hour))
	if got := x.take("sid-1", ""); len(got) != 1 || got[0].ref != "ref-1" {
		t.Fatalf("take(sid-1) = %+v", got)
	}
	if got := x.take("", "sub-a"); len(got) != 2 {
		t.Fatalf("take(sub-a) = %+v, want both of alice's", got)
	}
	if got := x.take("sid-2", "sub-x"); len(got) != 1 || got[0].ref != "ref-2" {
		t.Fatalf("take(sid-2) = %+v", got)
	}
	x.add("", "", "carol", "ref-4", now.Add(2*time.Hour), now.Add(3*time.Hour)) // prunes bob's expired entry
	if got := x.take("sid-3", "sub-b"); len(got) != 0 {
		t.Fatalf("expired entries kept: %+v", got)
	}
}

type realmSite struct {
	login.Site
	realm string
}

func (s realmSite) Realm() string { return s.realm }

// TestSharedAcrossReloadsAndRealm: a Method built again (a configuration
// reload) or for another site of the realm sees the back-channel logouts,
// used states and sign-ins of the first; another realm does not.
func TestSharedAcrossReloadsAndRealm(t *testing.T) {
	o := config.DefaultOIDC()
	o.Issuer, o.ClientID = "https://shared.example", "c"
	st := memory.New(memory.Config{})
	build := func(realm string) *Method {
		m, err := New(Config{OIDC: &o, Site: realmSite{realm: realm}, State: st})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := build("shop")
	now := time.Now()
	if err := first.logouts.record(t.Context(), "sid-9", "", now); err != nil {
		t.Fatal(err)
	}
	first.signins.add("sid-9", "sub-9", "alice", "ref-9", now, now.Add(time.Hour))
	again, other := build("shop"), build("outlet")
	if ended, err := again.logouts.ended(t.Context(), "sid-9", "", now.Add(-time.Second)); err != nil || !ended {
		t.Fatalf("a rebuilt method of the realm forgot a logout: %v, %v", ended, err)
	}
	if got := again.signins.take("sid-9", ""); len(got) != 1 {
		t.Fatalf("a rebuilt method of the realm forgot a sign-in: %+v", got)
	}
	if ended, err := other.logouts.ended(t.Context(), "sid-9", "", now.Add(-time.Second)); err != nil || ended {
		t.Fatalf("another realm's session was ended: %v, %v", ended, err)
	}
}

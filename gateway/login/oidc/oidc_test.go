package oidc

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/login"
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

func TestStatesAreSingleUse(t *testing.T) {
	s := newOnceSet()
	exp := time.Now().Add(time.Minute)
	if !s.first("a", exp) || s.first("a", exp) || !s.first("b", exp) {
		t.Fatal("a state must be first exactly once")
	}
	if !s.first("old", time.Now().Add(-time.Second)) || !s.first("c", exp) || !s.first("old", exp) {
		t.Fatal("an expired state must be forgotten")
	}
}

func TestEndedSet(t *testing.T) {
	e := newEndedSet()
	t0 := time.Now()
	e.add("sid-1", "", t0, t0.Add(time.Hour))
	e.add("", "sub-2", t0, t0.Add(time.Hour))
	for _, tc := range []struct {
		name     string
		sid, sub string
		since    time.Time
		want     bool
	}{
		{"its sid", "sid-1", "sub-x", t0.Add(-time.Minute), true},
		{"its sub", "sid-x", "sub-2", t0.Add(-time.Minute), true},
		{"signed in after the logout", "sid-1", "sub-2", t0.Add(time.Second), false},
		{"another session", "sid-3", "sub-3", t0.Add(-time.Minute), false},
		{"no sid nor sub", "", "", t0.Add(-time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.ended(tc.sid, tc.sub, tc.since); got != tc.want {
				t.Fatalf("ended = %v, want %v", got, tc.want)
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
// reload) or for another site of the realm sees the back-channel logouts
// and used states of the first; another realm does not.
func TestSharedAcrossReloadsAndRealm(t *testing.T) {
	o := config.DefaultOIDC()
	o.Issuer, o.ClientID = "https://shared.example", "c"
	build := func(realm string) *Method {
		m, err := New(Config{OIDC: &o, Site: realmSite{realm: realm}})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := build("shop")
	now := time.Now()
	first.ended.add("sid-9", "", now, now.Add(time.Hour))
	first.states.first("state-9", now.Add(time.Minute))
	again, other := build("shop"), build("outlet")
	if !again.ended.ended("sid-9", "", now.Add(-time.Second)) || again.states.first("state-9", now.Add(time.Minute)) {
		t.Fatal("a rebuilt method of the realm forgot a logout or a used state")
	}
	if other.ended.ended("sid-9", "", now.Add(-time.Second)) {
		t.Fatal("another realm's session was ended")
	}
}

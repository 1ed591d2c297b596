package session_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
)

// The lifecycle is audited — created, rotated (soft and hard, with the
// reason), expired, revoked, logout, unknown IDs (sampled, with counts) —
// and no event carries an ID or an ID hash.
func TestLifecycleAudited(t *testing.T) {
	h := newHarness(t, session.Config{Realm: "shop", RotateEvery: 15 * time.Minute, IdleTimeout: time.Hour}, nil)
	a := h.auditor()
	c := h.client()
	var ids []string
	note := func() { ids = append(ids, h.sid(c)) }

	h.do(c, "POST", "/set?k=cart&v=1", nil)
	note()
	if ev, ok := a.Last("session.created"); !ok || ev.Ref == "" || attr(ev, "realm") != "shop" {
		t.Fatalf("creation not audited with its ref and realm: %+v", ev)
	}
	h.do(c, "POST", "/login?u=alice", nil)
	note()
	if ev, _ := a.Last("session.rotated"); attr(ev, "kind") != "hard" || attr(ev, "reason") != "login" || ev.User != "alice" {
		t.Fatalf("login rotation: %+v", ev)
	}
	h.clock.Advance(16 * time.Minute)
	h.do(c, "GET", "/whoami", nil)
	note()
	if ev, _ := a.Last("session.rotated"); attr(ev, "kind") != "soft" || attr(ev, "reason") != "periodic" {
		t.Fatalf("periodic rotation: %+v", ev)
	}

	// Expired: audited with the limit that ended it, and the cookie cleared.
	h.clock.Advance(2 * time.Hour)
	_, body, resp := h.do(c, "GET", "/whoami", nil)
	if body != "" {
		t.Fatal("setup: the session did not expire")
	}
	if ev, ok := a.Last("session.expired"); !ok || attr(ev, "limit") != "idle_timeout" || ev.User != "alice" {
		t.Fatalf("expiry not audited: %+v", ev)
	}
	cleared := false
	for _, ck := range resp.Cookies() {
		cleared = cleared || (ck.Name == "__Host-sid" && ck.MaxAge < 0)
	}
	if !cleared {
		t.Fatal("an expired session's cookie was not cleared")
	}

	// Revoked and logout.
	other := h.client()
	h.do(c, "POST", "/login?u=alice", nil)
	note()
	h.do(other, "POST", "/login?u=alice", nil)
	list, _ := h.m.ListUserSessions(context.Background(), "alice")
	for _, s := range list {
		if err := h.m.RevokeSession(context.Background(), "alice", s.Ref); err != nil {
			t.Fatal(err)
		}
		break
	}
	if _, ok := a.Last("session.revoked"); !ok {
		t.Fatal("revocation not audited")
	}
	h.do(other, "POST", "/logout", nil)
	h.do(c, "POST", "/login?u=alice", nil)
	note()
	h.do(c, "POST", "/logout", nil)
	if ev, ok := a.Last("session.logout"); !ok || ev.User != "alice" || ev.Ref == "" {
		t.Fatalf("logout not audited with its user and ref: %+v", ev)
	}

	// Unknown IDs: one event per interval, counting the ones in between.
	h.clock.Advance(11 * time.Second) // past any earlier sample
	before := a.Count("session.unknown_id")
	rc := h.rawClient()
	for range 5 {
		id, _ := token.New()
		ids = append(ids, id)
		h.do(rc, "GET", "/whoami", cookieHeader("__Host-sid", id))
	}
	if got := a.Count("session.unknown_id") - before; got != 1 {
		t.Fatalf("5 unknown IDs within a second gave %d events, want 1 (sampled)", got)
	}
	h.clock.Advance(11 * time.Second)
	h.do(rc, "GET", "/whoami", cookieHeader("__Host-sid", "not-an-id"))
	if ev, _ := a.Last("session.unknown_id"); attr(ev, "count") != "5" || attr(ev, "reason") != "malformed" {
		t.Fatalf("the next sample does not count the 4 suppressed unknown IDs and itself: %+v", ev)
	}

	// No event holds an ID, its hash in any realm, or a cookie value.
	for _, e := range a.Events() {
		text := fmt.Sprintf("%+v", e)
		for _, id := range ids {
			if id == "" {
				continue
			}
			for _, realm := range []string{"", "shop"} {
				hash, _ := token.ParseIn(realm, id)
				if strings.Contains(text, id) || strings.Contains(text, hash.Hex()) {
					t.Fatalf("event %s carries an ID or its hash: %s", e.Type, text)
				}
			}
		}
	}
}

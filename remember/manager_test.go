package remember_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/remember/internal/sqltest"
)

// TestIssueAndAutoLogin: a key logs its user in once, and every use sets a
// new key with the documented cookie attributes.
func TestIssueAndAutoLogin(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T) remember.Store) {
		a := newApp(t, open(t), nil)
		b := a.browser(t)
		login := b.do("POST", "/login", url.Values{"user": {"alice"}})
		if len(login.setCookie) != 1 {
			t.Fatalf("login Set-Cookie = %q", login.setCookie)
		}
		want := []string{"__Host-remember=", "Path=/", "Max-Age=2592000", "HttpOnly", "Secure", "SameSite=Lax"}
		for _, w := range want {
			if !strings.Contains(login.setCookie[0], w) {
				t.Errorf("Set-Cookie %q lacks %q", login.setCookie[0], w)
			}
		}
		if strings.Contains(login.setCookie[0], "Domain=") || login.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Set-Cookie %q / Cache-Control %q", login.setCookie[0], login.header.Get("Cache-Control"))
		}

		seen := map[string]bool{}
		for i := range 3 {
			before := b.key()
			seen[before] = true
			user, reason := b.auto()
			if user != "alice" {
				t.Fatalf("auto-login %d: user %q, reason %q", i, user, reason)
			}
			if after := b.key(); after == "" || seen[after] {
				t.Fatalf("auto-login %d did not set a new key", i)
			}
		}
		if got := a.audit.Types(); !slices.Equal(got, []string{"remember.issued", "remember.login", "remember.login", "remember.login"}) {
			t.Fatalf("audit = %v", got)
		}
	})
}

// TestStolenKeyReuse: a copied key used after its owner used it (or before)
// revokes every key of the user, the thief's and the owner's alike, and
// calls OnReuse.
func TestStolenKeyReuse(t *testing.T) {
	tests := []struct {
		name       string
		ownerFirst bool
	}{
		{"thief uses the key after the owner", true},
		{"thief uses the key before the owner", false},
	}
	eachBackend(t, func(t *testing.T, open func(*testing.T) remember.Store) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				a := newApp(t, open(t), nil)
				owner, thief := a.browser(t), a.browser(t)
				owner.login("alice")
				stolen := owner.key()
				thief.copyKey(stolen)

				first, second := owner, thief
				if !tc.ownerFirst {
					first, second = thief, owner
				}
				if user, reason := first.auto(); user != "alice" {
					t.Fatalf("first use: %q %s", user, reason)
				}
				firstNewKey := first.key()
				if _, reason := second.auto(); reason != "reused" {
					t.Fatalf("second use of one key: reason %q, want reused", reason)
				}
				if second.key() != "" {
					t.Error("the reused key's cookie was not cleared")
				}
				if got := a.revokedUsers(); !slices.Equal(got, []string{"alice"}) {
					t.Fatalf("OnReuse calls = %v, want [alice]", got)
				}
				// The first user's fresh key is dead as well.
				if user, reason := first.auto(); user != "" || reason != "not_found" {
					t.Fatalf("key issued before the theft signal still works: %q %s", user, reason)
				}
				for _, sel := range []string{selector(stolen), selector(firstNewKey)} {
					if _, err := a.store.Lookup(context.Background(), sel); !errors.Is(err, remember.ErrNotFound) {
						t.Errorf("a key of alice survived the revocation: %v", err)
					}
				}
				if !slices.Contains(a.audit.Types(), "remember.reuse") {
					t.Errorf("no remember.reuse event in %v", a.audit.Types())
				}
			})
		}
	})
}

// TestConcurrentUse: many requests present one key at the same moment
// (tabs restored at once, or a thief racing the owner); exactly one logs in.
// Without a grace, a loser that arrives after the winner's commit is a
// reuse and revokes everything; with a grace, the losers are refused
// quietly and the winner keeps its new key.
func TestConcurrentUse(t *testing.T) {
	tests := []struct {
		name  string
		grace time.Duration
		ok    []string // reasons allowed for the losers
	}{
		{"no grace", 0, []string{"raced", "reused", "not_found"}},
		{"one minute grace", time.Minute, []string{"raced"}},
	}
	eachBackend(t, func(t *testing.T, open func(*testing.T) remember.Store) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				a := newApp(t, open(t), func(c *remember.Config) { c.ReuseGrace = tc.grace })
				owner := a.browser(t)
				owner.login("alice")
				key := owner.key()

				const n = 12
				clients := make([]*browser, n)
				for i := range clients {
					clients[i] = a.browser(t)
					clients[i].copyKey(key)
				}
				users, reasons := make([]string, n), make([]string, n)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range n {
					wg.Go(func() {
						<-start
						users[i], reasons[i] = clients[i].auto()
					})
				}
				close(start)
				wg.Wait()

				var winner *browser
				for i := range n {
					switch {
					case users[i] == "alice":
						if winner != nil {
							t.Fatalf("two concurrent uses of one key logged in (reasons %v)", reasons)
						}
						winner = clients[i]
					case !slices.Contains(tc.ok, reasons[i]):
						t.Errorf("loser %d: reason %q, want one of %v", i, reasons[i], tc.ok)
					}
				}
				if winner == nil {
					t.Fatalf("no use of the key logged in (reasons %v)", reasons)
				}
				reused := slices.Contains(reasons, "reused")
				if tc.grace > 0 {
					if user, _ := winner.auto(); user != "alice" || len(a.revokedUsers()) != 0 {
						t.Fatalf("with a grace, the winner's new key failed (%q) or sessions were revoked (%v)", user, a.revokedUsers())
					}
					return
				}
				// The old key presented again, now that the race is over, is
				// theft — unless that response already fired.
				_, reason := owner.auto()
				if want := map[bool]string{false: "reused", true: "not_found"}[reused]; reason != want {
					t.Fatalf("old key after the race: %q, want %q", reason, want)
				}
				// Several losers may detect the reuse at once; revoking
				// twice is harmless.
				if got := a.revokedUsers(); len(got) == 0 || slices.ContainsFunc(got, func(u string) bool { return u != "alice" }) {
					t.Fatalf("OnReuse calls = %v, want alice at least once", got)
				}
			})
		}
	})
}

// TestReuseGrace: within the grace a used key is refused quietly; after it,
// reuse is theft.
func TestReuseGrace(t *testing.T) {
	a := newApp(t, remember.NewMemoryStore(), func(c *remember.Config) { c.ReuseGrace = time.Minute })
	owner, tab := a.browser(t), a.browser(t)
	owner.login("alice")
	tab.copyKey(owner.key())
	if user, _ := owner.auto(); user != "alice" {
		t.Fatal("first use failed")
	}
	if _, reason := tab.auto(); reason != "raced" {
		t.Fatalf("reuse within grace: %q, want raced", reason)
	}
	if tab.key() == "" || len(a.revokedUsers()) != 0 {
		t.Fatal("reuse within grace cleared the cookie or revoked sessions")
	}
	if user, _ := owner.auto(); user != "alice" {
		t.Fatal("owner's new key stopped working after a graced reuse")
	}
	a.clock.Advance(2 * time.Minute)
	if _, reason := tab.auto(); reason != "reused" {
		t.Fatalf("reuse after grace: %q, want reused", reason)
	}
}

// TestExpiry: the server refuses an expired key even while the browser
// still sends it, and clears the cookie.
func TestExpiry(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		want    string // reason, "" for success
	}{
		{"one second before expiry", time.Hour - time.Second, ""},
		{"exactly at expiry", time.Hour, "not_found"},
		{"long after expiry", 48 * time.Hour, "not_found"},
	}
	eachBackend(t, func(t *testing.T, open func(*testing.T) remember.Store) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				a := newApp(t, open(t), func(c *remember.Config) { c.MaxAge = time.Hour })
				b := a.browser(t)
				b.login("alice")
				a.clock.Advance(tc.advance)
				user, reason := b.auto()
				if reason != tc.want || (tc.want == "" && user != "alice") {
					t.Fatalf("auto-login: %q %q, want reason %q", user, reason, tc.want)
				}
				if tc.want != "" && b.key() != "" {
					t.Fatal("expired key's cookie not cleared")
				}
			})
		}
	})
}

// TestDisable: turning auto-login off removes the keys of every device.
func TestDisable(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T) remember.Store) {
		a := newApp(t, open(t), nil)
		laptop, phone, bob := a.browser(t), a.browser(t), a.browser(t)
		laptop.login("alice")
		phone.login("alice")
		bob.login("bob")
		if r := laptop.do("POST", "/disable", url.Values{"user": {"alice"}}); r.code != 200 {
			t.Fatalf("disable: %d %s", r.code, r.body)
		}
		if laptop.key() != "" {
			t.Error("Disable did not clear the cookie")
		}
		if user, reason := phone.auto(); user != "" || reason != "not_found" {
			t.Fatalf("other device after Disable: %q %q", user, reason)
		}
		if user, _ := bob.auto(); user != "bob" {
			t.Fatal("Disable for alice removed bob's key")
		}
	})
}

// TestWrongValidator: a live selector with a wrong validator burns that key
// without logging anyone in or revoking sessions.
func TestWrongValidator(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T) remember.Store) {
		a := newApp(t, open(t), nil)
		owner, guesser := a.browser(t), a.browser(t)
		owner.login("alice")
		k := owner.key()
		guesser.copyKey(selector(k) + "." + strings.Repeat("A", 43))
		if user, reason := guesser.auto(); user != "" || reason != "invalid" {
			t.Fatalf("wrong validator: %q %q", user, reason)
		}
		if len(a.revokedUsers()) != 0 {
			t.Fatal("a wrong validator revoked sessions")
		}
		if _, reason := owner.auto(); reason != "not_found" {
			t.Fatalf("burned key still usable: %q", reason)
		}
		if !slices.Contains(a.audit.Types(), "remember.mismatch") {
			t.Fatalf("audit = %v", a.audit.Types())
		}
	})
}

// countingStore wraps a real store and counts lookups, to prove malformed
// cookies never reach it.
type countingStore struct {
	remember.Store
	mu      sync.Mutex
	lookups int
}

func (s *countingStore) Lookup(ctx context.Context, sel string) (remember.Record, error) {
	s.mu.Lock()
	s.lookups++
	s.mu.Unlock()
	return s.Store.Lookup(ctx, sel)
}

// TestMalformedCookies: hostile cookie values get a clean refusal, a
// cleared cookie and no store query.
func TestMalformedCookies(t *testing.T) {
	store := &countingStore{Store: remember.NewMemoryStore()}
	a := newApp(t, store, nil)
	owner := a.browser(t)
	owner.login("alice")
	good := owner.key()
	tests := []struct {
		name   string
		cookie string // raw Cookie header
		want   string // reason; "" for a 400 from net/http itself
	}{
		{"no cookie", "", "no_cookie"},
		{"empty value", "__Host-remember=", "invalid"},
		{"no dot", "__Host-remember=" + strings.Replace(good, ".", "A", 1), "invalid"},
		{"dot moved", "__Host-remember=" + good[1:23] + "." + good[23:], "invalid"},
		{"truncated", "__Host-remember=" + good[:len(good)-1], "invalid"},
		{"padding", "__Host-remember=" + good[:len(good)-1] + "=", "invalid"},
		{"std alphabet", "__Host-remember=" + good[:len(good)-1] + "+", "invalid"},
		{"non-canonical bits", "__Host-remember=" + good[:21] + "B" + good[22:], "invalid"},
		{"path traversal", "__Host-remember=../../../../etc/passwd", "invalid"},
		{"NUL (net/http answers 400)", "__Host-remember=" + good[:10] + "\x00" + good[11:], ""},
		{"non-UTF-8 (net/http drops the cookie)", "__Host-remember=" + good[:10] + "\xff" + good[11:], "no_cookie"},
		{"16 KB", "__Host-remember=" + strings.Repeat("A", 16<<10), "invalid"},
		{"two cookies (tossing)", "__Host-remember=" + good + "; __Host-remember=" + good, "invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store.mu.Lock()
			store.lookups = 0
			store.mu.Unlock()
			r := rawGet(t, a, "/auto", tc.cookie)
			wantCode := http.StatusUnauthorized
			if tc.want == "" {
				wantCode = http.StatusBadRequest
			}
			if r.code != wantCode || r.reason != tc.want {
				t.Fatalf("status %d reason %q, want %d %q", r.code, r.reason, wantCode, tc.want)
			}
			if tc.want == "invalid" && (len(r.setCookie) != 1 || !strings.Contains(r.setCookie[0], "Max-Age=0")) {
				t.Errorf("cookie not cleared: %q", r.setCookie)
			}
			if store.lookups != 0 {
				t.Errorf("malformed cookie reached the store (%d lookups)", store.lookups)
			}
		})
	}
	// Nothing lost: the owner's key still works.
	if user, reason := owner.auto(); user != "alice" {
		t.Fatalf("owner after the attacks: %q %q", user, reason)
	}
}

// TestStoreDown: a failing store is an error, not a refusal, and the
// cookie stays so auto-login works again when the store is back.
func TestStoreDown(t *testing.T) {
	db := sqltest.SQLite(t)
	a := newApp(t, db.Store, nil)
	b := a.browser(t)
	b.login("alice")
	key := b.key()
	db.DB.Close() // the database goes away
	r := b.do("GET", "/auto", nil)
	if r.code != http.StatusServiceUnavailable || len(r.setCookie) != 0 || b.key() != key {
		t.Fatalf("store down: %d, Set-Cookie %q; want 503 and the cookie kept", r.code, r.setCookie)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	s := remember.NewMemoryStore()
	tests := []struct {
		name string
		cfg  remember.Config
	}{
		{"no store", remember.Config{}},
		{"__Host- with a path", remember.Config{Store: s, Path: "/app"}},
		{"__Host- with a domain", remember.Config{Store: s, Domain: "example.com"}},
		{"__Host- without Secure", remember.Config{Store: s, Insecure: true}},
		{"__Secure- without Secure", remember.Config{Store: s, CookieName: "__Secure-rm", Insecure: true}},
		{"invalid name", remember.Config{Store: s, CookieName: "re member"}},
		{"relative path", remember.Config{Store: s, CookieName: "rm", Path: "app"}},
		{"sub-second MaxAge", remember.Config{Store: s, MaxAge: time.Millisecond}},
		{"negative grace", remember.Config{Store: s, ReuseGrace: -time.Second}},
		{"grace beyond MaxAge", remember.Config{Store: s, MaxAge: time.Hour, ReuseGrace: time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := remember.New(tc.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

// rawGet sends a GET over its own TLS connection with the Cookie header
// written byte for byte: net/http's client refuses to send some of the
// hostile values a real attacker can.
func rawGet(t *testing.T, a *app, path, cookie string) result {
	t.Helper()
	conn, err := tls.Dial("tcp", a.Listener.Addr().String(), a.Client().Transport.(*http.Transport).TLSClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + a.Listener.Addr().String() + "\r\nConnection: close\r\n"
	if cookie != "" {
		req += "Cookie: " + cookie + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return result{code: resp.StatusCode, body: string(body), reason: resp.Header.Get("X-Reason"), setCookie: resp.Header.Values("Set-Cookie"), header: resp.Header}
}

// TestReloginReplacesKey: logging in again with "remember me" on the same
// browser replaces its key instead of piling up keys; another browser's key
// is untouched.
func TestReloginReplacesKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T) remember.Store) {
		a := newApp(t, open(t), nil)
		b, other := a.browser(t), a.browser(t)
		b.login("alice")
		other.login("alice")
		first := b.key()
		b.login("alice")
		if _, err := a.store.Lookup(context.Background(), selector(first)); !errors.Is(err, remember.ErrNotFound) {
			t.Fatalf("the replaced key is still stored: %v", err)
		}
		for _, c := range []*browser{b, other} {
			if user, reason := c.auto(); user != "alice" {
				t.Fatalf("auto-login after re-login: %q %q", user, reason)
			}
		}
	})
}

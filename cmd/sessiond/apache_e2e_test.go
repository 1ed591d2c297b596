package main_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
)

// TestAttackApacheMigration, against the built binary on
// each store, with sessions minted by a real Apache httpd (mod_auth_form,
// mod_session_cookie, mod_session_crypto; users hashed by Apache's
// htpasswd -m and -s): the backend never receives the Apache password, a
// user of the gateway's users file is signed in and one that is not is
// not (both audited), and a migrated cookie replayed after a restart of
// the gateway is still refused.
func TestAttackApacheMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache httpd")
	}
	bin := buildSessiond(t)
	up := newUpstream(t)
	apache := testenv.StartAuthForm(t, "members", "apache migration secret", func(users string) {
		testenv.Htpasswd(t, "-c", "-b", "-m", users, "alice", "alice-pw")
		testenv.Htpasswd(t, "-b", "-s", users, "bob", "bob-pw")
		testenv.Htpasswd(t, "-b", "-m", users, "mallory", "mallory-pw")
	})
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			pass := filepath.Join(t.TempDir(), "apache-passphrases")
			if err := os.WriteFile(pass, []byte("apache migration secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			audit := filepath.Join(t.TempDir(), "audit.log")
			g := startGatewayConfig(t, bin, st, "audit: {log: "+audit+"}\n", fmt.Sprintf(`
  - hosts: [a.localhost]
    upstream: %s
    auth: {htpasswd: {users}}
    modcrypto: {passphrase_file: %s, cookie_name: session, auth_name: members}
`, up.srv.URL, pass), func(users string) {
				// The gateway knows alice and bob (as Apache hashed them), not mallory.
				testenv.CopyUsers(t, apache.Users, users, "alice", "bob")
			})
			present := func(cookie string) (user, xSession string) {
				w := web{t, client()}
				req, _ := http.NewRequest("GET", g.url("a.localhost", "/who"), nil)
				req.Header.Set("Cookie", "session="+cookie)
				resp, err := w.c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return up.seen().Get("X-Session-User"), up.seen().Get("X-Session")
			}
			alice, mallory := apache.Login(t, "alice", "alice-pw"), apache.Login(t, "mallory", "mallory-pw")
			bob := apache.Login(t, "bob", "bob-pw") // used only after the restart

			user, xs := present(alice)
			if strings.Contains(xs, "alice-pw") || strings.Contains(xs, "members-") {
				t.Fatalf("the backend received mod_auth_form's keys (the password in clear): X-Session %q", xs)
			}
			if user != "alice" {
				t.Fatalf("alice's Apache session signed in %q, want alice", user)
			}
			if user, xs = present(mallory); user != "" || strings.Contains(xs, "mallory-pw") {
				t.Fatalf("mallory (not in the gateway's users file) signed in as %q, X-Session %q", user, xs)
			}
			if user, _ = present(alice); user != "" {
				t.Fatalf("a replayed copy of alice's Apache cookie signed in %q", user)
			}

			g.restart(t, bin)
			if user, _ = present(alice); user != "" {
				t.Fatalf("after a restart, a replayed copy of alice's Apache cookie signed in %q", user)
			}
			if user, xs = present(bob); user != "bob" || strings.Contains(xs, "bob-pw") {
				t.Fatalf("bob's Apache session after the restart: user %q, X-Session %q", user, xs)
			}

			log, err := os.ReadFile(audit)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{`"event":"modcrypto.login"`, `"event":"modcrypto.login_refused"`, `"user":"mallory"`, `"event":"modcrypto.replay"`} {
				if !strings.Contains(string(log), want) {
					t.Fatalf("audit log lacks %s:\n%s", want, log)
				}
			}
		})
	}
}

package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"

	"github.com/sessiond/sessiond/internal/testenv"
)

// TestRealApacheAuthFormMigration mints real mod_auth_form sessions with
// Apache httpd (mod_session_crypto cookies, users hashed by Apache's
// htpasswd -m and -s) and presents them to the gateway: the password
// never reaches the backend, a user of the gateway's users file is signed
// in, one that is not (mallory) is not, and a replayed copy is refused.
func TestRealApacheAuthFormMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache httpd")
	}
	apache := testenv.StartAuthForm(t, "members", "apache secret", func(users string) {
		testenv.Htpasswd(t, "-c", "-b", "-m", users, "alice", "alice-pw")
		testenv.Htpasswd(t, "-b", "-s", users, "bob", "bob-pw")
		testenv.Htpasswd(t, "-b", "-m", users, "mallory", "mallory-pw")
	})
	pass := passphraseFile(t, "apache secret")
	for _, authName := range []string{"members", ""} {
		t.Run("auth_name="+authName, func(t *testing.T) {
			g := startGateway(t, func(sc *config.Site) {
				sc.ModCrypto = &config.ModCrypto{PassphraseFile: pass, CookieName: "session", Cipher: "aes256", AuthName: authName}
			})
			// The gateway's users: alice and bob as Apache hashed them, not mallory.
			testenv.CopyUsers(t, apache.Users, g.users, "alice", "bob")
			g.g.ReloadUsers()

			for _, u := range []struct{ user, pw, want string }{
				{"alice", "alice-pw", "alice"}, {"bob", "bob-pw", "bob"}, {"mallory", "mallory-pw", ""},
			} {
				cookie := apache.Login(t, u.user, u.pw)
				c := g.client()
				_, body := g.do(c, "GET", g.httpsURL+"/p", nil, http.Header{"Cookie": {"session=" + cookie}})
				seen := g.backend.seen().Get("X-Session")
				if strings.Contains(seen, u.pw) || strings.Contains(seen, "members-") || strings.Contains(body, u.pw) {
					t.Fatalf("%s: the backend received the Apache password: X-Session %q", u.user, seen)
				}
				if got := between(body+"\n", "\nuser=", "\n"); got != u.want {
					t.Fatalf("%s's Apache session signed in %q, want %q", u.user, got, u.want)
				}
				if _, body := g.do(g.client(), "GET", g.httpsURL+"/p", nil, http.Header{"Cookie": {"session=" + cookie}}); strings.Contains(body, "\nuser="+u.user) {
					t.Fatalf("a replayed copy of %s's Apache cookie was accepted: %q", u.user, body)
				}
			}
		})
	}
	t.Run("other AuthName", func(t *testing.T) {
		g := startGateway(t, func(sc *config.Site) {
			sc.ModCrypto = &config.ModCrypto{PassphraseFile: pass, CookieName: "session", Cipher: "aes256", AuthName: "staff"}
		})
		cookie := apache.Login(t, "alice", "alice-pw")
		_, body := g.do(g.client(), "GET", g.httpsURL+"/p", nil, http.Header{"Cookie": {"session=" + cookie}})
		if between(body+"\n", "\nuser=", "\n") != "" || strings.Contains(g.backend.seen().Get("X-Session"), "members-") {
			t.Fatalf("a session of another AuthName: %q, X-Session %q", body, g.backend.seen().Get("X-Session"))
		}
	})
}

package modcrypto

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/internal/testenv"
)

// TestRealApache runs Apache httpd with mod_session_crypto on a loopback
// port (internal/testenv: skipped without Apache, failing under CI) and
// checks both directions: a cookie Apache writes decodes here, and a
// cookie built by this package's test encoder is accepted by Apache (it
// echoes the session back).
func TestRealApache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache httpd")
	}
	apache := testenv.StartApache(t, []string{"authz_core", "headers", "session", "session_cookie", "session_crypto"},
		func(dir string) string {
			docs := filepath.Join(dir, "docs")
			if err := os.Mkdir(docs, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"index.html", "set.html", "echo.html"} {
				if err := os.WriteFile(filepath.Join(docs, name), []byte("ok\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			return apacheConf(docs)
		})
	base := apache.URL

	d, err := New([]string{"first secret", "second"}, Options{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("apache writes, sessiond reads", func(t *testing.T) {
		resp, err := http.Get(base + "/set.html")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /set.html: %s", resp.Status)
		}
		var value string
		for _, c := range resp.Cookies() {
			if c.Name == "session" {
				value = c.Value
			}
		}
		if value == "" {
			t.Fatalf("Apache set no session cookie; headers: %v", resp.Header)
		}
		s, err := d.Decode(value)
		if err != nil {
			t.Fatalf("Decode(Apache's cookie): %v", err)
		}
		// Apache decodes the header's '+' as a space, like a form.
		want := map[string]string{"user": "alice", "cart": "1,2 3", "note": "a b"}
		if diff := cmp.Diff(want, s.Values); diff != "" {
			t.Fatalf("values (-want +got):\n%s", diff)
		}
		if left := time.Until(s.Expiry); left < 590*time.Second || left > 610*time.Second {
			t.Fatalf("expiry in %v, want about 600s (SessionMaxAge 600)", left)
		}
	})

	t.Run("sessiond encoding, apache reads", func(t *testing.T) {
		exp := strconv.FormatInt(time.Now().Add(time.Hour).UnixMicro(), 10)
		for _, pass := range []string{"first secret", "second"} {
			cookie := sealed{pass: pass, payload: "user=bob&note=a+b%2fc&expiry=" + exp}.encode(t)
			req, _ := http.NewRequest("GET", base+"/echo.html", nil)
			req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// Apache re-encodes the table it decoded: the same pairs.
			if got := resp.Header.Get("X-Echo"); !strings.Contains(got, "user=bob") || !strings.Contains(got, "note=a+b%2fc") {
				t.Fatalf("passphrase %q: Apache did not read our cookie; X-Echo = %q", pass, got)
			}
		}
	})
}

func apacheConf(docs string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DocumentRoot %q\n", docs)
	b.WriteString(`<Location />
  Require all granted
  Session On
  SessionCookieName session path=/
  SessionCryptoPassphrase "first secret" second
  SessionMaxAge 600
</Location>
# "early" headers are set before the session is saved; they only work in
# server context, so every response carries this one, but only /set reads it.
Header set X-Replace-Session "user=alice&cart=1%%2C2+3&note=a%%20b" early
<Location /set.html>
  SessionHeader X-Replace-Session
</Location>
<Location /echo.html>
  SessionEnv On
  Header always set X-Echo "%{HTTP_SESSION}e"
</Location>
`)
	return b.String()
}

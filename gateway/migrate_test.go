package gateway

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/config"

	"github.com/sessiond/sessiond/gateway/modcrypto"
)

func TestApacheCookieMigratedOnce(t *testing.T) {
	pass := passphraseFile(t, "apache-secret")
	g := startGateway(t, func(sc *config.Site) {
		sc.ModCrypto = &config.ModCrypto{PassphraseFile: pass, CookieName: "session", Cipher: "aes256"}
	})
	apache, err := modcrypto.Encode("apache-secret", map[string]string{"realm-user": "alice", "realm-pw": "alice-pw", "realm-site": "x", "cart": "4,5"}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c := g.client()
	hdr := http.Header{"Cookie": {"session=" + apache}}
	resp, body := g.do(c, "GET", g.httpsURL+"/p", nil, hdr)
	if !strings.Contains(body, "user=alice") || !strings.Contains(body, "cart=4%2c5") || strings.Contains(body, "pw") {
		t.Fatalf("first request after migration, backend saw %q", body)
	}
	if strings.Contains(g.backend.seen().Get("Cookie"), apache[:20]) {
		t.Fatal("the Apache cookie reached the backend")
	}
	var expired, issued bool
	for _, ck := range resp.Cookies() {
		expired = expired || (ck.Name == "session" && ck.MaxAge < 0)
		issued = issued || ck.Name == "__Host-sid"
	}
	if !expired || !issued {
		t.Fatalf("want the Apache cookie expired and a sessiond cookie issued: %q", resp.Header.Values("Set-Cookie"))
	}
	// The sessiond session carries on without the Apache cookie.
	if _, body := g.do(c, "GET", g.httpsURL+"/p", nil, nil); !strings.Contains(body, "user=alice") {
		t.Fatalf("sessiond session after migration: %q", body)
	}
	// A stolen copy of the Apache cookie replayed later is refused.
	thief := g.client()
	if _, body := g.do(thief, "GET", g.httpsURL+"/p", nil, hdr); strings.Contains(body, "alice") {
		t.Fatalf("replayed Apache cookie accepted: %q", body)
	}
	// A tampered one too.
	bad := apache[:len(apache)-6] + "AAAAA="
	if _, body := g.do(g.client(), "GET", g.httpsURL+"/p", nil, http.Header{"Cookie": {"session=" + bad}}); strings.Contains(body, "alice") {
		t.Fatalf("tampered Apache cookie accepted: %q", body)
	}
}

// passphraseFile writes Apache's SessionCryptoPassphrase to a private file.
func passphraseFile(t *testing.T, pass string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "passphrases")
	if err := os.WriteFile(p, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

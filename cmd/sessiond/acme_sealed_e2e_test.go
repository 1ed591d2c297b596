package main_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/acme/acmetest"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/store/sealed"
	"github.com/sessiond/sessiond/store/sqlite"
)

// TestACMESealedCertificates runs the built binary with listen.https.acme
// against Pebble, first without encryption, then with
// store.encrypt_at_rest turned on: the plaintext certificate is not
// trusted any more, a new one is obtained and served, and the SQLite file
// holds no private key or certificate in the clear — read from the file
// as anyone with a copy of it would; after a key rotation (a new key
// first, the old one kept) a restart with the CA down serves the same
// certificate from the store.
func TestACMESealedCertificates(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an ACME CA and the binary")
	}
	bin := buildSessiond(t)
	up := newUpstream(t)
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	ca := acmetest.StartPebble(t, acmetest.PebbleOptions{HTTPPort: hp})
	dir := t.TempDir()
	keys := filepath.Join(dir, "data-keys")
	old := sealed.FormatKey(sealed.GenerateKey())
	if err := os.WriteFile(keys, []byte(old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "sessions.db")
	cfg := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https:
    addr: "127.0.0.1:%d"
    acme: {email: ops@example.test, ca: %s, ca_root: %s, challenges: [http-01]}
store:
  sqlite: {path: %s}
sites:
  - hosts: [app.example.test]
    upstream: %s
    session: {mode: off}
`, hp, sp, ca.Directory, ca.RootFile, db, up.srv.URL)
	roots := ca.IssuerRoots(t)
	addr := fmt.Sprintf("127.0.0.1:%d", sp)
	_, cmd, _ := serveChecked(t, bin, dir, cfg)
	waitUntil(t, 60*time.Second, "no certificate for app.example.test", func() bool { return acmeCert(addr, "app.example.test", roots) != nil })
	plain := acmeCert(addr, "app.example.test", roots)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	// Encryption turned on: what was stored in the clear does not open.
	cfg = strings.Replace(cfg, "  sqlite: {path: "+db+"}\n", "  sqlite: {path: "+db+"}\n  encrypt_at_rest: {keys_file: "+keys+"}\n", 1)
	path, cmd, _ := serveChecked(t, bin, dir, cfg)
	var cert *x509.Certificate
	waitUntil(t, 60*time.Second, "no new certificate once encrypt_at_rest is on", func() bool {
		cert = acmeCert(addr, "app.example.test", roots)
		return cert != nil && !cert.Equal(plain)
	})

	// The file, read without the keys.
	ctx := context.Background()
	st, err := sqlite.New(ctx, sqlite.Config{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.CertStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names, err := raw.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var privateKeys int
	for _, name := range names {
		v, err := raw.Load(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".key") {
			privateKeys++
		}
		if bytes.Contains(v, []byte("-----BEGIN")) || bytes.Contains(v, []byte("app.example.test")) {
			t.Errorf("%s is in the database in the clear: %.60q", name, v)
		}
	}
	st.Close()
	if privateKeys < 2 { // the account's and the certificate's
		t.Fatalf("stored: %q; want the account's and the certificate's private keys", names)
	}

	// A key rotation, then a restart with the CA down.
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if err := os.WriteFile(keys, []byte(sealed.FormatKey(sealed.GenerateKey())+"\n"+old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca.SetDown(true)
	startLogged(t, bin, "serve", "--config", path)
	if got := acmeCert(addr, "app.example.test", roots); got == nil || !got.Equal(cert) {
		t.Fatalf("after a key rotation and a restart with the CA down: %v, want the stored certificate", got)
	}
}

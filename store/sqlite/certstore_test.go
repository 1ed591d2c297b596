package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway/acme"
	"github.com/sessiond/sessiond/gateway/acme/acmetest"
	"github.com/sessiond/sessiond/store/certkv"
	"github.com/sessiond/sessiond/store/sqlite"
)

// certStore opens the store at path and returns its certificate store.
func certStore(t *testing.T, path string) certkv.KV {
	t.Helper()
	st, err := sqlite.New(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := st.CertStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertStore(t *testing.T) {
	acmetest.KV(t, func(t *testing.T) acme.KV {
		// The session store's own file: the tables live beside its own.
		return certStore(t, filepath.Join(t.TempDir(), "sessiond.db"))
	})
}

// TestCertStoreSharedByProcesses: two handles on one file (two gateways
// on one host) see each other's certificates and locks.
func TestCertStoreSharedByProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessiond.db")
	kvs := [2]certkv.KV{certStore(t, path), certStore(t, path)}
	if err := kvs[0].Store(ctx, "certificates/a/a.crt", []byte("pem")); err != nil {
		t.Fatal(err)
	}
	if v, err := kvs[1].Load(ctx, "certificates/a/a.crt"); err != nil || string(v) != "pem" {
		t.Fatalf("the other handle loads %q, %v", v, err)
	}
	if ok, err := kvs[0].Lock(ctx, "issue", "a", time.Minute); !ok || err != nil {
		t.Fatalf("Lock = %v, %v", ok, err)
	}
	if ok, err := kvs[1].Lock(ctx, "issue", "b", time.Minute); ok || err != nil {
		t.Fatalf("the other handle took a held lock: %v, %v", ok, err)
	}
}

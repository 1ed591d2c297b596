package sealed_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"testing"

	"github.com/sessiond/sessiond/gateway/acme"
	"github.com/sessiond/sessiond/gateway/acme/acmetest"
	"github.com/sessiond/sessiond/internal/seal"
	"github.com/sessiond/sessiond/store/memory"
	"github.com/sessiond/sessiond/store/sealed"
)

func newCertStore(t *testing.T, inner *memory.CertStore, keys ...[]byte) *sealed.CertStore {
	t.Helper()
	c, err := sealed.NewCertStore(sealed.CertStoreConfig{Inner: inner, Keys: keys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertStoreConformance(t *testing.T) {
	key := sealed.GenerateKey()
	acmetest.KV(t, func(t *testing.T) acme.KV { return newCertStore(t, memory.NewCertStore(), key) })
}

// What the database holds of a certificate store behind the wrapper: no
// private key in the clear, nothing that opens under another name, and
// what was sealed with a rotated-out key still opens while that key is in
// the ring.
func TestCertStoreSealsValues(t *testing.T) {
	ctx := context.Background()
	const name = "certificates/acme/app.example.com/app.example.com.key"
	pem := []byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB...\n-----END EC PRIVATE KEY-----\n")
	old, cur := sealed.GenerateKey(), sealed.GenerateKey()
	setup := func(t *testing.T) *memory.CertStore {
		raw := memory.NewCertStore()
		if err := newCertStore(t, raw, old).Store(ctx, name, pem); err != nil {
			t.Fatal(err)
		}
		return raw
	}
	t.Run("the raw value is not the PEM", func(t *testing.T) {
		raw := setup(t)
		v, err := raw.Load(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(v, []byte("PRIVATE KEY")) || bytes.Contains(v, pem[30:40]) {
			t.Fatalf("the inner store holds the key in the clear: %q", v)
		}
		if size, _, err := newCertStore(t, raw, old).Stat(ctx, name); err != nil || size != int64(len(pem)) {
			t.Errorf("Stat = %d, %v; want the plaintext's %d", size, err, len(pem))
		}
	})
	t.Run("a rotation keeps it", func(t *testing.T) {
		raw := setup(t)
		c := newCertStore(t, raw, cur, old)
		if v, err := c.Load(ctx, name); err != nil || !bytes.Equal(v, pem) {
			t.Fatalf("after a rotation: %q, %v", v, err)
		}
		if err := c.Store(ctx, name, pem); err != nil {
			t.Fatal(err)
		}
		if v, err := newCertStore(t, raw, cur).Load(ctx, name); err != nil || !bytes.Equal(v, pem) {
			t.Fatalf("stored again under the new key, the old one retired: %q, %v", v, err)
		}
	})
	t.Run("moved under another name: missing", func(t *testing.T) {
		raw := setup(t)
		v, _ := raw.Load(ctx, name)
		other := "certificates/acme/evil.example.com/evil.example.com.key"
		raw.Store(ctx, other, v)
		if got, err := newCertStore(t, raw, old).Load(ctx, other); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, seal.ErrOpen) || got != nil {
			t.Fatalf("a value moved to another name loads %q, %v; want fs.ErrNotExist", got, err)
		}
	})
	t.Run("tampered: missing", func(t *testing.T) {
		raw := setup(t)
		v, _ := raw.Load(ctx, name)
		v[len(v)-1] ^= 1
		raw.Store(ctx, name, v)
		if got, err := newCertStore(t, raw, old).Load(ctx, name); !errors.Is(err, fs.ErrNotExist) || got != nil {
			t.Fatalf("a tampered value loads %q, %v; want fs.ErrNotExist", got, err)
		}
	})
	t.Run("stored before encryption: missing, never served", func(t *testing.T) {
		raw := memory.NewCertStore()
		raw.Store(ctx, name, pem)
		c := newCertStore(t, raw, old)
		if got, err := c.Load(ctx, name); !errors.Is(err, fs.ErrNotExist) || got != nil {
			t.Fatalf("a plaintext value loads %q, %v; want fs.ErrNotExist", got, err)
		}
		// Missing to Stat as well: the ACME manager orders a certificate
		// only when a part of it is missing.
		if _, _, err := c.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Stat of a plaintext value: %v; want fs.ErrNotExist", err)
		}
	})
	t.Run("a key not in the ring: an error, not missing", func(t *testing.T) {
		raw := setup(t)
		c := newCertStore(t, raw, cur)
		got, err := c.Load(ctx, name)
		if !errors.Is(err, seal.ErrUnknownKey) || errors.Is(err, fs.ErrNotExist) || got != nil {
			t.Fatalf("a value sealed with a retired key loads %q, %v; want seal.ErrUnknownKey (not fs.ErrNotExist: nothing is ordered over it)", got, err)
		}
		if _, _, err := c.Stat(ctx, name); err != nil {
			t.Fatalf("Stat of a value sealed with a key not in the ring: %v; want it to exist", err)
		}
	})
}

func TestNewCertStoreRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  sealed.CertStoreConfig
	}{
		{"no inner store", sealed.CertStoreConfig{Keys: [][]byte{sealed.GenerateKey()}}},
		{"no key", sealed.CertStoreConfig{Inner: memory.NewCertStore()}},
		{"a short key", sealed.CertStoreConfig{Inner: memory.NewCertStore(), Keys: [][]byte{make([]byte, 16)}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if s, err := sealed.NewCertStore(c.cfg); err == nil || s != nil {
				t.Fatalf("NewCertStore = %v, %v; want an error", s, err)
			}
		})
	}
}

package sealed_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/sessiond/sessiond/store/memory"
	"github.com/sessiond/sessiond/store/sealed"
)

// Certificates kept sealed in a store's certificate store (here a memory
// one; in a gateway, its database's CertStore): whoever reads the store
// gets no private key, while the ACME manager given the wrapper
// (gateway/acme.Config.KV) loads it as it was stored.
func ExampleNewCertStore() {
	ctx := context.Background()
	raw := memory.NewCertStore()
	keys := [][]byte{sealed.GenerateKey()} // in practice: sealed.ReadKeyFile
	certs, err := sealed.NewCertStore(sealed.CertStoreConfig{Inner: raw, Keys: keys})
	if err != nil {
		fmt.Println(err)
		return
	}
	pem := []byte("-----BEGIN EC PRIVATE KEY-----\n...")
	const name = "certificates/acme/www.example.com/www.example.com.key"
	if err := certs.Store(ctx, name, pem); err != nil {
		fmt.Println(err)
		return
	}
	stored, _ := raw.Load(ctx, name)
	loaded, _ := certs.Load(ctx, name)
	fmt.Println(bytes.Contains(stored, []byte("PRIVATE KEY")), bytes.Equal(loaded, pem))
	// Output: false true
}

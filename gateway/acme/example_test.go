package acme_test

import (
	"context"
	"log"
	"net/http"

	"github.com/sessiond/sessiond/gateway/acme"
	"github.com/sessiond/sessiond/store/memory"
)

// A server that obtains its certificates from Let's Encrypt, answering
// http-01 on port 80 and tls-alpn-01 on 443. With a real deployment, KV
// is a store shared by every instance: the CertStore of a session store
// ((*sqlite.Store).CertStore, (*postgres.Store).CertStore,
// (*redis.Store).CertStore).
func Example() {
	m, err := acme.New(acme.Config{
		CA:       "https://acme-v02.api.letsencrypt.org/directory",
		Email:    "ops@example.com",
		HTTPAddr: ":80",
		TLSAddr:  ":443",
		KV:       memory.NewCertStore(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	site := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) })
	if false { // serving needs the hosts' DNS and ports 80 and 443
		if err := m.Manage(context.Background(), []string{"www.example.com"}); err != nil {
			log.Fatal(err)
		}
		go http.ListenAndServe(":80", m.HTTPHandler(site))
		srv := &http.Server{Addr: ":443", Handler: site, TLSConfig: m.TLSConfig()}
		log.Fatal(srv.ListenAndServeTLS("", ""))
	}
	// Output:
}

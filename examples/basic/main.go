// Command basic is a small app on the session library: a counter and a
// login, served over HTTPS on 127.0.0.1 with a self-signed certificate
// made at start (sessions are HTTPS-only by default).
//
//	go run ./examples/basic
//	curl -k -c jar -b jar https://127.0.0.1:8443/
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"html/template"
	"log"
	"math/big"
	"net"
	"net/http"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

var page = template.Must(template.New("p").Parse(`<!doctype html><title>sessiond basic</title>
<p>Visits in this session: {{.Visits}}</p>
<p>{{if .User}}Logged in as {{.User}}. <form method=post action=/logout><button>Log out</button></form>
{{else}}<form method=post action=/login><input name=user placeholder=name><button>Log in</button></form>{{end}}`))

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "HTTPS listen address (loopback)")
	flag.Parse()

	store := memory.New(memory.Config{})
	defer store.Close()
	m, err := session.New(session.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := s.Int("visits")
		s.SetInt("visits", n+1)
		page.Execute(w, map[string]any{"Visits": n + 1, "User": s.User()})
	})
	// A real app also checks CSRF (package csrf) and a password here.
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.FormValue("user")); err != nil {
			http.Error(w, "login failed", http.StatusForbidden)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Logout()
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})

	cert, err := selfSigned()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: m.Handler(mux), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	fmt.Printf("sessiond basic example: https://%s/ (self-signed certificate)\n", *addr)
	log.Fatal(srv.ListenAndServeTLS("", ""))
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

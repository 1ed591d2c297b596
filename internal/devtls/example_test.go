package devtls_test

import (
	"crypto/tls"
	"fmt"

	"github.com/sessiond/sessiond/internal/devtls"
)

func ExampleGenerate() {
	cert, err := devtls.Generate(devtls.Options{}) // localhost, *.localhost, 127.0.0.1, ::1
	if err != nil {
		fmt.Println(err)
		return
	}
	srvConf := &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	cliConf := &tls.Config{RootCAs: cert.CertPool()} // or give cert.CertPEM to curl --cacert
	fmt.Println(len(srvConf.Certificates), cliConf.RootCAs != nil, cert.Covers([]string{"shop.localhost"}))
	// Output: 1 true true
}

package modcrypto_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/gateway/modcrypto"
)

func Example() {
	// In the gateway: passphrases from modcrypto.ReadPassphraseFile, the
	// value from the request's mod_session cookie ("session").
	dec, err := modcrypto.New([]string{"correct horse"}, modcrypto.Options{
		Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	const cookie = "87fPzSMcu70wMTIzNDU2Nzg5YWJjZGVmZmVkY2JhOTg3NjU0MzIxMDSYm86qurrtwoz2ES9wbxNm5k+ocABhTBRmd7UbV05Tr8hmxYYbVZLwPDyj8BWVVg=="

	s, err := dec.Decode(cookie)
	switch {
	case errors.Is(err, modcrypto.ErrExpired), errors.Is(err, modcrypto.ErrInvalid):
		fmt.Println("no session to import") // the same answer for every bad cookie
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	fmt.Println(s.Values["user"], s.Values["cart"], s.Expiry.UTC().Format(time.DateOnly))

	_, err = dec.Decode(cookie[:len(cookie)-8] + "AAAAAA==")
	fmt.Println(errors.Is(err, modcrypto.ErrInvalid))
	// Output:
	// alice 3,7 2100-01-01
	// true
}

package login_test

import (
	"fmt"

	"github.com/sessiond/sessiond/gateway/login"
)

// A next= parameter from the client is followed only to a path on the
// same site.
func ExampleSafeNext() {
	for _, next := range []string{"/cart?item=3", "https://evil.example/", "//evil.example/", "/%09/evil.example"} {
		fmt.Println(login.SafeNext(next))
	}
	// Output:
	// /cart?item=3
	// /
	// /
	// /
}

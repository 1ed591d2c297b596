package login_test

import (
	"fmt"
	"os"

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

// The login page merges every method's offer: here a provider's button
// and the password form.
func ExampleRenderPage() {
	page := login.Page{Site: "shop", Token: "csrf-token", Next: "/cart"}
	page.Add(login.Offer{Buttons: []login.Button{{ID: "oidc", Label: "Sign in with Example", URL: "/.sessiond/oidc/start?next=%2Fcart"}}})
	page.Add(login.Offer{Password: true, Action: "/login"})
	if err := login.RenderPage(os.Stdout, page); err != nil {
		fmt.Println(err)
	}
}

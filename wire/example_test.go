package wire_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessiond/sessiond/wire"
)

// A backend reads the session from the request and answers with its
// changes and actions; the gateway applies them.
func Example() {
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := wire.DecodeValues(r.Header.Get(wire.HeaderSession))
		if err != nil {
			// Some pairs were malformed; data holds the rest.
			fmt.Println("skipped:", err)
		}
		cart := data["cart"] + ",7"
		w.Header().Set(wire.HeaderReplace, wire.Changes{Set: map[string]string{"cart": cart}, Delete: []string{"coupon"}}.Encode())
		if r.FormValue("password") == "right" {
			w.Header().Add(wire.HeaderAction, wire.Login("alice"))
		}
	})

	req := httptest.NewRequest("POST", "/cart?password=right", nil)
	req.Header.Set(wire.HeaderSession, "cart=3&coupon=SAVE10") // what the gateway forwards
	rec := httptest.NewRecorder()
	backend.ServeHTTP(rec, req)
	fmt.Println(wire.HeaderReplace+":", rec.Header().Get(wire.HeaderReplace))
	fmt.Println(wire.HeaderAction+":", rec.Header().Get(wire.HeaderAction))
	// Output:
	// X-Replace-Session: cart=3%2c7&coupon=
	// X-Session-Action: login user=alice
}

func ExampleParseActions() {
	a, err := wire.ParseActions([]string{"login user=alice", "regenerate, frobnicate"})
	fmt.Printf("%+v\n", a)
	fmt.Println(err)
	// Output:
	// {Login:alice Logout:false Regenerate:true RequireSecure:false}
	// wire: unknown X-Session-Action: "frobnicate"
}

func ExampleDecodeChanges() {
	c, err := wire.DecodeChanges("name=Zo%c3%ab&cart=&bad=%zz")
	fmt.Println(c.Set, c.Delete)
	fmt.Println(err)
	// Output:
	// map[name:Zoë] [cart]
	// wire: malformed urlencoded pair: 1 skipped (pair 1: bad escape or empty key)
}

package shop_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/sessiond/sessiond/examples/shop"
)

// The shop sees the session only as headers. Here a test plays the
// gateway: it forwards a cart in X-Session and reads the change the shop
// asks for in X-Replace-Session.
func ExampleNew() {
	srv := httptest.NewServer(shop.New(shop.Config{Name: "shop"}))
	defer srv.Close()

	form := url.Values{"product": {"3"}}
	req, _ := http.NewRequest("POST", srv.URL+"/cart/add", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Session", "cart=1") // what the gateway forwards
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Location"))
	fmt.Println("X-Replace-Session:", res.Header.Get("X-Replace-Session"))
	// Output:
	// 303 /cart
	// X-Replace-Session: cart=1%2c3
}

func ExampleReplaceHeader() {
	// Place an order: store it in the secure partition, empty the cart.
	fmt.Println(shop.ReplaceHeader(map[string]string{"secure.last_order": "1,3"}, "cart"))
	// Output: secure.last_order=1%2c3&cart=
}

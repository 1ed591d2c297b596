package oidc_test

import (
	"fmt"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/login/oidc"
	"github.com/sessiond/sessiond/store/memory"
)

// site stands for the gateway site the method signs users in to.
type site struct{ login.Site }

func (site) HTTPSOrigin() string { return "https://app.example.com" }
func (site) Realm() string       { return "app" }

// A site builds its OpenID login from its auth.oidc block; the provider
// is first asked at the first sign-in, so New needs no network.
func ExampleNew() {
	o := config.DefaultOIDC()
	o.Issuer, o.ClientID, o.Name = "https://accounts.example.com", "sessiond", "Example"
	m, err := oidc.New(oidc.Config{OIDC: &o, Site: site{}, State: memory.New(memory.Config{})})
	if err != nil {
		panic(err)
	}
	for _, rt := range m.Routes() {
		fmt.Println(rt.Path)
	}
	fmt.Println(m.Offer(nil, "/account").Buttons[0].Name)
	// Output:
	// /.sessiond/oidc/login
	// /.sessiond/oidc/callback
	// /.sessiond/oidc/backchannel
	// /.sessiond/oidc/signed-out
	// Example
}

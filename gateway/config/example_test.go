package config_test

import (
	"fmt"

	"github.com/sessiond/sessiond/gateway/config"
)

func ExampleLoad() {
	data := []byte(`listen:
  https: {dev_tls: true}
sites:
  - hosts: [shop.localhost]
    upstream: http://127.0.0.1:9000
    session:
      mode: mixed
      idle_timeout: 5x
      cookie: {name: __Host-sid}
    colour: blue
`)
	_, _, err := config.Load("sessiond.yaml", data)
	for _, e := range config.Errors(err) {
		fmt.Println(e)
	}
	// Output:
	// sessiond.yaml:8: sites[0].session.idle_timeout: "5x" is not a duration (write it like "30s", "15m" or "1h30m")
	// sessiond.yaml:9: sites[0].session.cookie.name: "__Host-sid" travels over plain HTTP in mixed mode, so it cannot have the __Host- or __Secure- prefix (browsers would drop it)
	// sessiond.yaml:10: sites[0].colour: unknown key
}

func ExampleConfig_Validate() {
	cfg := config.Default()
	cfg.Listen.HTTPS.DevTLS = true
	cfg.Store = config.Store{Memory: &config.MemoryStore{}}

	shop := config.DefaultSite()
	shop.Hosts = []string{"shop.localhost"}
	shop.Upstream = "http://127.0.0.1:9000"
	shop.Session.Mode = config.ModeMixed
	cfg.Sites = append(cfg.Sites, shop)

	warnings, err := cfg.Validate()
	fmt.Println(err)
	for _, w := range warnings {
		fmt.Println(w)
	}
	s := cfg.Sites[0]
	fmt.Println(s.Name, s.Session.Cookie.Name, s.Session.Cookie.SecureName, s.Redirects.Overall, s.Redirects.HTTPSPort)
	// Output:
	// <nil>
	// store.memory: sessions live in memory and are lost on restart
	// shop.localhost sid __Host-ssid rules 8443
}

func ExampleSecret() {
	s := config.NewSecret("hunter2", "env DB_PASSWORD")
	fmt.Println(s, s.Source())
	fmt.Printf("%v %+v\n", s, struct{ Password config.Secret }{s})
	// Output:
	// [redacted] env DB_PASSWORD
	// [redacted] {Password:[redacted]}
}

package geoip_test

import (
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/sessiond/sessiond/geoip"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

func Example() {
	// In production Path is a downloaded GeoLite2-City.mmdb; here a tiny
	// stand-in is written first.
	dir, err := os.MkdirTemp("", "geoip-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "GeoLite2-City.mmdb")
	if err := writeExampleDB(path); err != nil {
		log.Fatal(err)
	}

	loc, err := geoip.Open(geoip.Config{Path: path, Language: "de"})
	if err != nil {
		log.Fatal(err) // e.g. geoip: /path/GeoLite2-ASN.mmdb: not a City or Country database: ...
	}
	defer loc.Close()

	for _, ip := range []string{"192.0.2.1", "198.51.100.7", "203.0.113.1", "10.0.0.1"} {
		fmt.Printf("%s: %q\n", ip, loc.Locate(netip.MustParseAddr(ip)))
	}

	// Areas then appear in Manager.ListUserSessions.
	store := memory.New(memory.Config{})
	defer store.Close()
	if _, err := session.New(session.Config{Store: store, Locator: loc}); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 192.0.2.1: "DE, München"
	// 198.51.100.7: "FR"
	// 203.0.113.1: ""
	// 10.0.0.1: ""
}

// writeExampleDB writes a two-network City database.
func writeExampleDB(path string) error {
	return writeDB(path, mmdbwriter.Options{DatabaseType: "GeoLite2-City", IncludeReservedNetworks: true}, []entry{
		{"192.0.2.0/24", mmdbtype.Map{
			"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")},
			"city": mmdbtype.Map{"names": mmdbtype.Map{
				"en": mmdbtype.String("Munich"),
				"de": mmdbtype.String("München"),
			}},
		}},
		{"198.51.100.0/24", mmdbtype.Map{
			"country": mmdbtype.Map{"iso_code": mmdbtype.String("FR")},
		}},
	})
}

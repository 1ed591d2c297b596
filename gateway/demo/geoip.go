package demo

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/sessiond/sessiond/geoip"
)

// demoArea is what the sessions page shows in its Area column for a
// session seen from this machine.
const demoArea = "this machine"

// openDemoGeoIP writes a tiny MaxMind DB that names the loopback networks
// (127.0.0.0/8 and ::1) "this machine", at path, and opens it. It is
// generated at every start: a test fixture, not data anyone needs to keep.
func openDemoGeoIP(path string) (*geoip.Locator, error) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "sessiond-demo-City",
		Description:             map[string]string{"en": "sessiond demo: loopback is this machine"},
		Languages:               []string{"en"},
		IncludeReservedNetworks: true,
	})
	if err != nil {
		return nil, err
	}
	rec := mmdbtype.Map{"city": mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(demoArea)}}}
	for _, cidr := range []string{"127.0.0.0/8", "::1/128"} {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return nil, err
		}
		if err := tree.Insert(n, rec); err != nil {
			return nil, fmt.Errorf("insert %s: %w", cidr, err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".geoip-*.mmdb")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tree.WriteTo(tmp); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	return geoip.Open(geoip.Config{Path: path, LocalNetworks: true})
}
